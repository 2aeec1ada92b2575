"""Look inside a torch ``.pth`` checkpoint without unpickling it.

torch >= 1.6 saves a zip archive whose ``<name>/data.pkl`` holds the object
tree as a pickle; tensors live in separate entries. We read that pickle's
opcodes with :func:`pickletools.genops` (which never executes anything), collect
the strings it contains (the state-dict keys) and every Python object it would
import (GLOBAL / STACK_GLOBAL / INST). A checkpoint only needs torch's tensor
rebuild helpers, storages, ``collections.OrderedDict`` and the plain data
types mmengine writes into its metadata (numpy arrays and scalars, its
HistoryBuffer). Names from packages that can run code (os, subprocess,
builtins, torch.load, ...) are refused; other packages' classes (training
metadata) are reported but harmless, because the restricted reader in
``dwpose_core.torch_models`` never constructs them.
"""
from __future__ import annotations

import pickletools
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_PICKLE_BYTES = 256 * 1024 * 1024  # the object tree of a 400 MB checkpoint is well under 1 MB

_TORCH_DTYPES = {
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int8", "uint8", "int16",
    "short", "int32", "int", "int64", "long", "bool", "complex64", "complex128",
}
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch", "Tensor"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch.storage", "UntypedStorage"),
    ("torch.storage", "TypedStorage"),
    # numpy data inside mmengine metadata (dataset_meta, message_hub)
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles spell bytes (numpy scalars)
    ("mmengine.logging.history_buffer", "HistoryBuffer"),
    ("mmengine.config.config", "ConfigDict"),
    *((b, n) for b in ("builtins", "__builtin__") for n in ("set", "frozenset", "slice", "complex", "bytearray")),
}


# Packages whose names in a pickle mean "run code at load time". torch and numpy are here too:
# only their data helpers above are allowed (torch.load, numpy.load, ... are not).
_CODE_PACKAGES = {
    "os", "posix", "nt", "subprocess", "sys", "builtins", "__builtin__", "importlib", "runpy", "pty", "socket",
    "shutil", "pickle", "_pickle", "marshal", "types", "ctypes", "code", "codeop", "webbrowser", "pdb", "bdb",
    "timeit", "trace", "profile", "cProfile", "operator", "_operator", "functools", "_functools", "itertools",
    "multiprocessing", "asyncio", "threading", "_thread", "signal", "platform", "inspect", "pkgutil",
    "zipimport", "tempfile", "io", "_io", "pathlib", "glob", "fileinput", "urllib", "http", "ftplib",
    "smtplib", "requests", "httpx", "setuptools", "pip", "distutils", "ensurepip", "venv", "gc", "weakref",
    "torch", "numpy", "copyreg", "_codecs", "codecs", "collections", "sysconfig", "site", "zipfile", "tarfile",
}


def global_allowed(module: str, name: str) -> bool:
    if (module, name) in _ALLOWED_GLOBALS:
        return True
    if module == "torch" and (name.endswith("Storage") or name in _TORCH_DTYPES):
        return True
    return module == "numpy.dtypes" and name.endswith("DType")


def classify_global(module: str, name: str) -> str:
    """"allowed" (data a checkpoint needs), "refused" (code-capable), or "unknown" (some other
    package's class, e.g. training metadata: never constructed by the restricted reader)."""
    if global_allowed(module, name):
        return "allowed"
    if module.split(".")[0] in _CODE_PACKAGES or module.startswith("<"):
        return "refused"
    return "unknown"


@dataclass
class PthInfo:
    pickle_entry: str = ""
    strings: set[str] = field(default_factory=set)
    globals: list[str] = field(default_factory=list)  # "module.name", in order of first use
    torchscript: bool = False

    def _of_class(self, wanted: str) -> list[str]:
        out = []
        for ref in self.globals:
            module, _, name = ref.rpartition(".")
            if classify_global(module, name) == wanted:
                out.append(ref)
        return out

    @property
    def refused_globals(self) -> list[str]:
        return self._of_class("refused")

    @property
    def unknown_globals(self) -> list[str]:
        return self._of_class("unknown")


class PthFormatError(ValueError):
    """The file is not a readable torch zip checkpoint."""


def inspect_pth(path: Path) -> PthInfo:
    """Scan the checkpoint's pickle; raises PthFormatError when the file cannot be read as one."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise PthFormatError(
            f"it is not a zip archive ({exc}); torch checkpoints saved since torch 1.6 are zip files, "
            "so this one is truncated, damaged or not a checkpoint") from exc
    with archive:
        names = archive.namelist()
        info = PthInfo(torchscript=any("/code/" in n or n.startswith("code/") for n in names))
        pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if not pickles:
            raise PthFormatError("the archive has no data.pkl, so it is not a torch checkpoint")
        info.pickle_entry = pickles[0]
        entry = archive.getinfo(info.pickle_entry)
        if entry.file_size > MAX_PICKLE_BYTES:
            raise PthFormatError(f"its data.pkl is {entry.file_size} bytes, far more than a checkpoint needs")
        try:
            data = archive.read(entry)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise PthFormatError(f"data.pkl cannot be read from the archive ({exc})") from exc
    _scan(data, info)
    return info


_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING",
               "SHORT_BINSTRING"}


def _scan(data: bytes, info: PthInfo) -> None:
    memo: dict[int, object] = {}
    recent: list[object] = [None, None]  # the last two pushed values, for STACK_GLOBAL
    seen: set[str] = set()

    def add_global(ref: str) -> None:
        if ref not in seen:
            seen.add(ref)
            info.globals.append(ref)

    try:
        for op, arg, _pos in pickletools.genops(data):
            name = op.name
            if name in _STRING_OPS:
                value = arg.decode("latin-1") if isinstance(arg, bytes) else arg
                info.strings.add(value)
                recent = [recent[1], value]
            elif name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                add_global(f"{module}.{attr}")
                recent = [recent[1], None]
            elif name == "STACK_GLOBAL":
                module, attr = recent
                if isinstance(module, str) and isinstance(attr, str):
                    add_global(f"{module}.{attr}")
                else:
                    add_global("<unresolved>.STACK_GLOBAL")
                recent = [None, None]
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[int(arg)] = recent[1]
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[1]
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                recent = [recent[1], memo.get(int(arg))]
            elif name in ("FRAME", "PROTO"):
                pass  # framing only, pushes nothing
            else:
                recent = [recent[1], None]
    except Exception as exc:  # genops raises ValueError and friends on damaged pickles
        raise PthFormatError(f"its pickle is damaged ({exc})") from exc
