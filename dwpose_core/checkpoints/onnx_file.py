"""Each ONNX file is parsed once per process: the hub's structure check, the torch backend's architecture
recognition and its weight mapping share one parsed ``ModelProto``.

Entries are keyed by (resolved path, size, mtime_ns), so a changed file is parsed again. At most
``MAX_ENTRIES`` models are kept (a detector and a pose model); :func:`release` drops one as soon as
its last user (the weight mapping) is done, so the parsed weights do not stay in memory beside the
network built from them.
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


def release(path: Union[str, os.PathLike]) -> None:
    """Forget the parsed model of ``path`` (its weights were taken; the memory can go)."""
    path = Path(path)
    with _lock:
        for key in [k for k in _cache if k[0] == str(path.resolve())]:
            del _cache[key]


def clear() -> None:
    with _lock:
        _cache.clear()
