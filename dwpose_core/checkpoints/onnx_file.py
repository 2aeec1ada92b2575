"""Each ONNX file is parsed once per process: the hub's structure check, the torch backend's architecture
recognition and its weight mapping share one parsed ``ModelProto``.

Entries are keyed by (resolved path, size, mtime_ns), so a changed file is parsed again. At most
``MAX_ENTRIES`` models are kept (a detector and a pose model); :func:`release` drops one as soon as
its last user (the weight mapping) is done, so the parsed weights do not stay in memory beside the
network built from them.

:func:`initializer_problems` compares what each initializer declares (shape x element size) with
the bytes it holds, so a crafted file ([2^31, 2^31] floats over 4 bytes) is refused by the structure
check, naming the tensor, before a backend or the weight mapping allocates anything for it. Parsing
does not compare the two, and onnx's full checker is not run on model files (it copies large graphs).
"""
from __future__ import annotations

import collections
import os
import threading
from pathlib import Path
from typing import Union

from ..errors import DWPoseError

MAX_ENTRIES = 2

_cache: "collections.OrderedDict[tuple, object]" = collections.OrderedDict()
_lock = threading.Lock()
parse_count = 0  # how many files were parsed in this process (tests read it)


class OnnxParseError(DWPoseError, ValueError):
    """The file does not parse as ONNX; the message says why (first line of the parser's error)."""


def _key(path: Path) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def load(path: Union[str, os.PathLike]):
    """The parsed ModelProto of ``path`` (external data loaded), shared by every caller in this process."""
    global parse_count
    path = Path(path)
    key = _key(path)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError, missing external data, ...
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OnnxParseError(text) from None
    with _lock:
        parse_count += 1
        _cache[key] = model
        _cache.move_to_end(key)
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return model


# Element sizes in bytes by TensorProto data type (onnx/onnx.proto3); 4-bit types pack two per byte.
_ITEM_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2,
               17: 1, 18: 1, 19: 1, 20: 1}
_HALF_BYTE = {21, 22, 23}  # UINT4, INT4, FLOAT4E2M1
_TYPE_NAMES = {1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
               10: "float16", 11: "double", 12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128",
               16: "bfloat16"}
_VALUE_FIELDS = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data")


def _bytes_text(n: int) -> str:
    for unit, size in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def initializer_problems(model) -> list[str]:
    """One line per initializer whose declared shape does not match the data it holds (negative or
    oversized dimensions, a byte count that differs); empty for a sound graph. Never allocates."""
    problems: list[str] = []
    for init in model.graph.initializer:
        dims = list(init.dims)
        shape = "[" + ", ".join(str(d) for d in dims) + "]"
        what = _TYPE_NAMES.get(init.data_type, f"type-{init.data_type}")
        if any(d < 0 for d in dims):
            problems.append(f"its initializer {init.name!r} declares a negative dimension {shape}")
            continue
        count = 1
        for d in dims:
            count *= d
        if init.data_location == 1 or init.data_type == 8 or (init.data_type not in _ITEM_BYTES
                                                              and init.data_type not in _HALF_BYTE):
            continue  # external data not loaded, strings, unknown types: nothing to compare here
        if init.HasField("raw_data") or not any(len(getattr(init, f)) for f in _VALUE_FIELDS):
            held = len(init.raw_data)
            wanted = (count + 1) // 2 if init.data_type in _HALF_BYTE else count * _ITEM_BYTES[init.data_type]
            if held != wanted:
                problems.append(f"its initializer {init.name!r} declares {shape} {what} values "
                                f"({_bytes_text(wanted)}) but holds {_bytes_text(held)}; the file is damaged "
                                "or crafted")
            continue
        held = max(len(getattr(init, f)) for f in _VALUE_FIELDS)
        if init.data_type in _HALF_BYTE:
            wanted_values = (count + 1) // 2  # two 4-bit values per int32 element
        else:  # one value per element (float16/bfloat16/float8 each in an int32), complex: two
            wanted_values = count * (2 if init.data_type in (14, 15) else 1)
        if held != wanted_values:
            problems.append(f"its initializer {init.name!r} declares {shape} {what} values but holds {held:,}; "
                            "the file is damaged or crafted")
    return problems


def release(path: Union[str, os.PathLike]) -> None:
    """Forget the parsed model of ``path`` (its weights were taken; the memory can go)."""
    path = Path(path)
    with _lock:
        for key in [k for k in _cache if k[0] == str(path.resolve())]:
            del _cache[key]


def clear() -> None:
    with _lock:
        _cache.clear()
