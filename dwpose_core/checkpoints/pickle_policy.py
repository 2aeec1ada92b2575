"""What a checkpoint's pickle may name, as data: the restricted reader (safe_pickle.py) answers
"reader" names with its own safe objects, "inert" names with placeholders that only record their
arguments, and refuses "refused" names (anything that could run code) outright.
"""
from __future__ import annotations

# Data helpers from code-capable packages that stay inert placeholders (never called for real).
_INERT_DATA = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("torch", "Size"), ("torch", "device"), ("torch", "Tensor"), ("torch", "dtype"),
    ("torch.storage", "UntypedStorage"), ("torch.storage", "TypedStorage"),
    ("collections", "defaultdict"), ("collections", "Counter"), ("collections", "deque"),
    *((b, n) for b in ("builtins", "__builtin__") for n in ("set", "frozenset", "slice", "complex", "bytearray",
                                                            "object", "range")),
}
_TORCH_DTYPES = {
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int8", "uint8", "int16", "short",
    "int32", "int", "int64", "long", "bool", "complex64", "complex128",
}
# Packages whose names in a pickle mean "run code at load time".
CODE_PACKAGES = {
    "os", "posix", "nt", "subprocess", "sys", "builtins", "__builtin__", "importlib", "runpy", "pty", "socket",
    "shutil", "pickle", "_pickle", "marshal", "types", "ctypes", "code", "codeop", "webbrowser", "pdb", "bdb",
    "timeit", "trace", "profile", "cProfile", "operator", "_operator", "functools", "_functools", "itertools",
    "multiprocessing", "asyncio", "threading", "_thread", "signal", "platform", "inspect", "pkgutil",
    "zipimport", "tempfile", "io", "_io", "pathlib", "glob", "fileinput", "urllib", "http", "ftplib",
    "smtplib", "requests", "httpx", "setuptools", "pip", "distutils", "ensurepip", "venv", "gc", "weakref",
    "torch", "numpy", "copyreg", "_codecs", "codecs", "collections", "sysconfig", "site", "zipfile", "tarfile",
    "_posixsubprocess", "posixpath", "ntpath", "_winapi", "msvcrt", "_ctypes", "ast", "dis", "imp",
}
GETATTR = {("builtins", "getattr"), ("__builtin__", "getattr")}
# Names the reader answers with its own safe objects (rebuild functions, OrderedDict; storages by type name).
READER_NAMES = {
    ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"), ("torch._tensor", "_rebuild_from_type_v2"),
    ("collections", "OrderedDict"),
}


def classify_global(module: str, name: str, storage_names=frozenset()) -> str:
    """"reader" (ours: rebuild helpers, OrderedDict, guarded getattr), "inert" (a placeholder that
    records its arguments) or "refused" (could run code)."""
    if (module, name) in READER_NAMES or (module, name) in GETATTR or (module == "torch" and name in storage_names):
        return "reader"
    if (module, name) in _INERT_DATA or (module == "torch" and name in _TORCH_DTYPES) or (
            module == "numpy.dtypes" and name.endswith("DType")):
        return "inert"
    if module.split(".")[0] in CODE_PACKAGES or module.startswith("<") or not module:
        return "refused"
    return "inert"
