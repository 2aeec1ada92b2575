"""The one restricted reader for torch ``.pth`` checkpoints (zip format), used by the hub's
structural check and by the torch loader alike, so both always give the same verdict.

Nothing a pickle names is ever executed. ``find_class`` hands out only:

* our own tensor-rebuild functions (they build :class:`LazyTensor` descriptions,
  validated against the storage the pickle declared),
* storage-type markers and ``collections.OrderedDict`` (a plain container),
* a guarded ``getattr``: applied to one of our inert placeholders it returns
  another placeholder (mmengine >= 0.7.3 pickles ``getattr(HistoryBuffer, 'min')``
  in every ``message_hub``); applied to anything else it is refused,
* an inert :class:`Placeholder` class for any other name (training metadata,
  numpy scalars, mmengine classes): calling it only records the arguments.

Names that could run code (``os.system``, ``builtins.eval``, ``subprocess``,
``torch.load`` ...) are refused outright: a weights file never needs them.

Before any tensor data is read, every storage the pickle declares is checked
against the archive: the entry must exist, hold exactly ``numel x itemsize``
bytes, be stored uncompressed (so a small file cannot expand into gigabytes),
and all storages together must fit in the file. Every tensor's shape, stride
and offset must stay inside its storage. Any violation is a
:class:`CheckpointFormatError` whose message starts with the file's name.

The storage and tensor descriptions the pickle builds live in :mod:`.lazy_tensors`. This
module needs no torch; materialising tensors lives in ``dwpose_core.checkpoints.pth_reader``.
"""
from __future__ import annotations

import collections
import io
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from . import pickle_policy as _policy
from .lazy_tensors import (  # noqa: F401  re-exported: the reader's vocabulary, moved from this module
    MAX_DIMS,
    STORAGE_DTYPES,
    LazyStorage,
    LazyTensor,
    StorageType,
)
from .lazy_tensors import READER_FUNCTIONS as _READER_FUNCTIONS
from .pickle_policy import GETATTR as _GETATTR
from ..errors import DWPoseError

MAX_PICKLE_BYTES = 32 * 1024 * 1024  # the object tree of a 400 MB checkpoint is well under 1 MB
READ_CHUNK = 1 << 20
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def classify_global(module: str, name: str) -> str:
    """"reader" (ours: rebuild helpers, OrderedDict, guarded getattr), "inert" (a placeholder that
    records its arguments) or "refused" (could run code)."""
    return _policy.classify_global(module, name, STORAGE_DTYPES.keys())


class CheckpointFormatError(DWPoseError, ValueError):
    """A .pth file this reader will not load; the message names the file and what is wrong."""

    def __init__(self, message: str, path: Union[str, Path, None] = None):
        super().__init__(message)
        self.path = Path(path) if path is not None else None


class UnsafeCheckpointError(CheckpointFormatError):
    """The pickle names something that could run code (the file is refused, nothing ran)."""


class Placeholder:
    """Stands in for any object the reader will not construct. Holds its data, does nothing."""

    _module = "?"
    _name = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs, self.state, self.items = args, kwargs, None, []

    def __setstate__(self, state: Any) -> None:  # BUILD
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:  # SETITEMS on dict subclasses
        self.items.append((key, value))

    def append(self, value: Any) -> None:  # APPENDS on list subclasses
        self.items.append(value)

    def extend(self, values: Any) -> None:
        self.items.extend(values)

    def __repr__(self) -> str:
        return f"<not loaded: {self._module}.{self._name}>"


def placeholder_class(module: str, name: str) -> type:
    return type("Placeholder", (Placeholder,), {"_module": module, "_name": name})


def _is_placeholder(obj: Any) -> bool:
    return isinstance(obj, Placeholder) or (isinstance(obj, type) and issubclass(obj, Placeholder))


def _guarded_getattr(obj, name, *default):
    if not _is_placeholder(obj) or not isinstance(name, str):
        raise pickle.UnpicklingError(f"getattr applied to {type(obj).__name__}, not to a placeholder")
    return placeholder_class(f"{obj._module}.{obj._name}", name)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, label: str):
        super().__init__(file)
        self.label = label
        self.storages: dict[str, LazyStorage] = {}
        self.globals: list[str] = []  # "module.name" in order of first use

    def find_class(self, module: str, name: str):
        ref = f"{module}.{name}"
        if ref not in self.globals:
            self.globals.append(ref)
        verdict = classify_global(module, name)
        if verdict == "refused":
            raise UnsafeCheckpointError(
                f"{self.label}: its pickle names {ref}, which could run code when unpickled and which a weights "
                "checkpoint never needs; refusing the file (nothing was run)")
        if verdict == "reader":
            if (module, name) in _GETATTR:
                return _guarded_getattr
            if module == "torch":
                return StorageType(name)
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            return _READER_FUNCTIONS[(module, name)]
        return placeholder_class(module, name)

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel)
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, StorageType):
            raise pickle.UnpicklingError("a storage of an unknown type")
        if not isinstance(key, str) or not _KEY.match(key) or ".." in key:
            raise pickle.UnpicklingError(f"a storage key {key!r:.40} that is not a plain name")
        if type(numel) is not int or numel < 0:
            raise pickle.UnpicklingError(f"storage {key!r} declares {numel!r:.40} elements")
        known = self.storages.get(key)
        if known is None:
            known = self.storages[key] = LazyStorage(key, storage_type.dtype, storage_type.itemsize, numel)
        elif (known.dtype, known.numel) != (storage_type.dtype, numel):
            raise pickle.UnpicklingError(f"storage {key!r} is declared twice with different types or sizes")
        return known


# ---------------------------------------------------------------- the archive

class CheckpointArchive:
    """An open zip-format torch checkpoint: ``root`` is the unpickled tree (tensors lazy, metadata inert).

    Opening it reads only the pickle and the zip directory, and validates every
    declared storage against the archive; tensor bytes are read on request.
    """

    def __init__(self, path: Union[str, Path]):
        self.path = Path(path)
        self.label = self.path.name
        try:
            self.archive = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as exc:
            raise self._error(self._not_zip_hint(), exc) from None
        except OSError as exc:
            raise self._error(f"it cannot be read ({exc})") from None
        try:
            self._open()
        except BaseException:
            self.archive.close()
            raise

    def _not_zip_hint(self) -> str:
        try:
            with open(self.path, "rb") as f:
                head = f.read(2)
        except OSError:
            head = b""
        if head[:1] == b"\x80":
            return ("it looks like a legacy (pre-1.6) torch file; re-save it with a current torch or use the "
                    "ONNX file instead")
        return ("it is not a zip archive, as torch checkpoints saved since torch 1.6 are, so it is truncated or "
                "corrupt (an interrupted download?) or not a checkpoint")

    def _error(self, what: str, cause: Optional[BaseException] = None) -> CheckpointFormatError:
        cls = UnsafeCheckpointError if isinstance(cause, UnsafeCheckpointError) else CheckpointFormatError
        return cls(f"{self.label}: cannot read the checkpoint: {what}", self.path)

    def _open(self) -> None:
        infos = {i.filename: i for i in self.archive.infolist()}
        names = list(infos)
        self.torchscript = any("/code/" in n or n.startswith("code/") for n in names)
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1] or (
            ["data.pkl"] if "data.pkl" in infos else [])
        if not pkl:
            raise self._error("there is no data.pkl inside, so it is not a torch checkpoint")
        self.prefix = pkl[0][: -len("data.pkl")]
        self.infos = infos
        order = infos.get(self.prefix + "byteorder")
        self.big_endian = order is not None and order.file_size < 16 and self.archive.read(order).strip() == b"big"
        entry = infos[pkl[0]]
        if entry.file_size > MAX_PICKLE_BYTES:
            raise self._error(f"its data.pkl declares {entry.file_size:,} bytes, far more than a checkpoint needs")
        try:
            with self.archive.open(entry) as f:
                data = f.read(MAX_PICKLE_BYTES + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise self._error(f"its data.pkl cannot be read ({exc})") from None
        if len(data) > MAX_PICKLE_BYTES:
            raise self._error("its data.pkl is far larger than a checkpoint needs")
        unpickler = _RestrictedUnpickler(io.BytesIO(data), self.label)
        try:
            self.root = unpickler.load()
        except UnsafeCheckpointError:
            raise
        except CheckpointFormatError:
            raise
        except RecursionError:
            raise self._error("its pickle nests deeper than a checkpoint does") from None
        except MemoryError:
            raise self._error("its pickle needs more memory than a checkpoint does") from None
        except Exception as exc:  # UnpicklingError, EOFError, TypeError, KeyError... from crafted opcodes
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise self._error(f"its pickle is damaged or crafted ({text})") from None
        self.globals = unpickler.globals
        self.storages = unpickler.storages
        self._check_storages()

    def _check_storages(self) -> None:
        """Every declared storage must exist, hold exactly its bytes, uncompressed, and all must fit the file."""
        total = 0
        for key, storage in self.storages.items():
            info = self.infos.get(f"{self.prefix}data/{key}")
            if info is None:
                raise self._error(f"storage {key!r} is declared by the pickle but missing from the archive")
            if info.file_size != storage.nbytes:
                raise self._error(f"storage {key!r} should hold {storage.nbytes:,} bytes "
                                  f"({storage.numel:,} x {storage.dtype}) but its archive entry declares "
                                  f"{info.file_size:,}")
            if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
                raise self._error(f"storage {key!r} is compressed, which torch never writes (a zip bomb?)")
            total += storage.nbytes
        try:
            size = self.path.stat().st_size
        except OSError:
            size = 0
        if total > size:
            raise self._error(f"its storages declare {total:,} bytes, more than the whole file ({size:,} bytes)")

    # ------------------------------------------------------------ reading data

    def iter_storage(self, storage: LazyStorage) -> Iterable[bytes]:
        """One storage's bytes in chunks of at most READ_CHUNK; its length and CRC are checked."""
        name = f"{self.prefix}data/{storage.key}"
        got = 0
        try:
            with self.archive.open(name) as f:
                while got < storage.nbytes:
                    chunk = f.read(min(READ_CHUNK, storage.nbytes - got))
                    if not chunk:
                        break
                    got += len(chunk)
                    yield chunk
                if got == storage.nbytes:
                    f.read(1)  # reach the end: zipfile checks the CRC there
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise self._error(f"storage {storage.key!r} cannot be read ({exc}); the file is damaged") from None
        if got != storage.nbytes:
            raise self._error(f"storage {storage.key!r} ended after {got:,} of {storage.nbytes:,} bytes")

    def read_storage_into(self, storage: LazyStorage, out) -> None:
        """Stream one storage's bytes straight into the writable buffer ``out`` (``storage.nbytes`` long)."""
        view = memoryview(out).cast("B")
        if len(view) != storage.nbytes:
            raise ValueError("buffer size does not match the storage")
        pos = 0
        for chunk in self.iter_storage(storage):
            view[pos:pos + len(chunk)] = chunk
            pos += len(chunk)

    def check_storages_readable(self, storages: Iterable[LazyStorage]) -> None:
        """Read (and discard) the given storages, so damaged bytes (a bad CRC) are found now."""
        for storage in storages:
            for _ in self.iter_storage(storage):
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.archive.close()


# ---------------------------------------------------------------- shared interpretation

def find_state_dict(root: Any) -> Optional[dict]:
    """The weights dict of a checkpoint tree: ``state_dict`` / ``model`` / ``module``, or the root itself
    when it maps names to tensors; None when there is none."""
    if isinstance(root, dict):
        for key in ("state_dict", "model", "module"):
            if isinstance(root.get(key), dict):
                return root[key]
        if any(isinstance(v, LazyTensor) for v in root.values()):
            return root
    return None


def describe_root(root: Any) -> str:
    return root._name if isinstance(root, Placeholder) else type(root).__name__
