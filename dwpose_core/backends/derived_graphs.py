"""Derived ONNX graphs for ONNX Runtime, written once from the torch module: YOLOX at another
input size (``det_size``), and a dynamic batch for files fixed to batch 1 (the published pose file).

The published ``yolox_l.onnx`` is fixed at 640x640. YOLOX is fully convolutional, so
the same weights run at any multiple of 32; ONNX Runtime needs a graph of that size.
``detector_for_size(path, size)`` returns such a graph: the first time, torch reads
the file's weights (our own YOLOX module, BatchNorm already folded) and exports them
at ``size`` with a dynamic batch (opset 11, like the published file), into the per-user
cache folder; afterwards the cached file is used.

Cache folder: ``DWPOSE_CACHE_DIR`` if set, else ``%LOCALAPPDATA%/dwpose/cache`` (Windows),
``~/Library/Caches/dwpose`` (macOS), ``$XDG_CACHE_HOME/dwpose`` or ``~/.cache/dwpose``.
File name: ``<stem>-<size or "batch">-<first 16 hex of the source's SHA-256>.onnx`` plus a JSON
record holding the graph's SHA-256, size and modification time. A cached graph is used
only when its SHA-256 matches the record; the hash is recomputed only when the file's
size or modification time differ from the record (the same rule as model verification).
A graph that fails the check is rewritten. Writing is atomic (temporary name, rename). The
source's SHA-256 is likewise remembered by path, size and modification time (``sources.json``).

Writing one is a one-time preparation (torch export, then ONNX Runtime's optimiser on first use:
several seconds for the real models); it is announced as such with an estimate, and only the
graph a run uses is written. Derived graphs count against ``DWPOSE_CACHE_LIMIT``
(:mod:`dwpose_core.checkpoints.derived_cache`): the least recently used are deleted beyond it.

Measured on a 2-core AVX2 CPU (benchmarks/detsize.py): ONNX Runtime on this graph is
faster than the torch backend on the CPU at every size, and a process that uses it
never imports torch after the first export; so this is what ``det_size`` uses with
ONNX Runtime.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Optional

from ..checkpoints import derived_cache
from .base import BackendError

log = logging.getLogger("dwpose")
_lock = threading.Lock()
_source_hashes: dict[tuple, str] = {}  # (path, size, mtime_ns) -> sha256, per process


def cache_dir() -> Path:
    """The per-user cache folder (one rule for the whole pack: :mod:`dwpose_core.hub.user_cache`)."""
    from ..hub.user_cache import cache_dir as user_cache_dir

    return user_cache_dir()


def sha256_file(path: Path) -> str:
    from ..hub.digest import sha256_file as digest

    return digest(path)


def _stat_key(path: Path) -> tuple:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def _source_hash(path: Path) -> str:
    """SHA-256 of a model file, remembered by (path, size, mtime) in this process and across processes
    (``sources.json`` in the cache folder), so an unchanged file is hashed once."""
    key = _stat_key(path)
    if key in _source_hashes:
        return _source_hashes[key]
    index_file = cache_dir() / "sources.json"
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
        if not isinstance(index, dict):
            index = {}
    except (OSError, ValueError):
        index = {}
    entry = index.get(key[0])
    if isinstance(entry, dict) and entry.get("size") == key[1] and entry.get("mtime_ns") == key[2] \
            and isinstance(entry.get("sha256"), str) and len(entry["sha256"]) == 64:
        digest = entry["sha256"]
    else:
        digest = sha256_file(path)
        index[key[0]] = {"size": key[1], "mtime_ns": key[2], "sha256": digest}
        try:
            index_file.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(index_file, json.dumps(index).encode())
        except OSError:  # a read-only cache only costs the hash next time
            pass
    _source_hashes[key] = digest
    return digest


def cached_graph_path(path: Path, size: Optional[int]) -> Path:
    tag = size if size else "batch"
    return cache_dir() / f"{path.stem}-{tag}-{_source_hash(path)[:16]}.onnx"


def _record_path(graph: Path) -> Path:
    return graph.with_suffix(".json")


def _verified(graph: Path) -> bool:
    """The cached graph matches its record (SHA-256; rehashed only when size or mtime changed)."""
    record_file = _record_path(graph)
    if not graph.is_file() or not record_file.is_file():
        return False
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
        st = graph.stat()
        if record.get("size") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns:
            derived_cache.used(graph)  # least recently used goes first when the cache is over its limit
            return True
        if sha256_file(graph) != record.get("sha256"):
            return False
        record.update(size=st.st_size, mtime_ns=st.st_mtime_ns)  # same bytes, touched: remember the new stat
        _write_atomic(record_file, json.dumps(record).encode())
        derived_cache.used(graph)
        return True
    except (OSError, ValueError, AttributeError):
        return False


def _write_atomic(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def export_graph(path: Path, size: Optional[int], target: Path) -> None:
    """Write ``path``'s network (our torch module, the file's weights) as an ONNX graph with a dynamic
    batch, opset 11; a YOLOX at ``size`` x ``size`` when given, else at the file's own input size."""
    what = f"a {size}x{size} graph" if size else "a graph with a dynamic batch"
    try:
        import torch
    except ImportError as exc:
        raise BackendError(f"ONNX Runtime needs {what} of {path.name}, which is written once with PyTorch, and "
                           "PyTorch is not installed. Install torch (the CPU build is enough), use "
                           "backend='torch', or keep det_size 640.") from exc
    import dataclasses
    import io

    from ..torch_models.loading import build_network, load_weights

    spec, state = load_weights(path)
    if size:
        if spec.kind != "yolox":
            raise BackendError(f"det_size applies to YOLOX detectors; {path.name} is {spec.title}.")
        spec = dataclasses.replace(spec, input_hw=(size, size))
    net = build_network(spec, state, path.name).eval()
    dummy = torch.zeros((1, 3) + tuple(spec.input_hw))
    axes = {name: {0: "N"} for name in (spec.input_name, *spec.output_names)}
    buffer = io.BytesIO()
    with torch.inference_mode():
        torch.onnx.export(net, (dummy,), buffer, input_names=[spec.input_name], output_names=list(spec.output_names),
                          dynamic_axes=axes, opset_version=11, dynamo=False)
    data = buffer.getvalue()
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(target, data)
    st = target.stat()
    record = {"source": path.name, "source_sha256": _source_hash(path), "det_size": size,
              "sha256": hashlib.sha256(data).hexdigest(), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    _write_atomic(_record_path(target), json.dumps(record).encode())


def export_yolox(path: Path, size: int, target: Path) -> None:
    export_graph(path, size, target)


def derived_graph(path: Path, size: Optional[int] = None) -> Path:
    """A verified ONNX graph of the network in ``path`` with a dynamic batch (a YOLOX at ``size`` x ``size``
    when given), written on first use."""
    path = Path(path)
    with _lock:
        target = cached_graph_path(path, size)
        if _verified(target):
            return target
        if target.exists():
            log.warning("DWPose: %s does not match its record; writing it again.", target)
        from ..torch_models.loading import recognise

        if recognise(path) is None:  # not a network the pack can rewrite: say so, announce nothing
            raise ValueError(f"{path.name}: not an RTMPose/YOLOX graph the pack can rewrite")
        what = f"a {size}x{size} graph" if size else "a graph with a dynamic batch"
        log.warning("DWPose: one-time preparation of %s (about %d s): writing %s for ONNX Runtime into %s",
                    path.name, preparation_seconds(path), what, target.parent)
        try:
            if size:
                export_yolox(path, size, target)
            else:
                export_graph(path, None, target)
        except OSError as exc:
            raise BackendError(f"cannot write the derived graph of {path.name} to {target.parent} ({exc}); "
                               "set DWPOSE_CACHE_DIR to a writable folder.") from exc
        derived_cache.admit(target)
        return target


def preparation_seconds(path: Path) -> int:
    """About how long writing a derived graph of ``path`` and optimising it once takes: measured on a
    2-core CPU with tools/make_test_models.py's architecture-faithful files (README, "First run"):
    5.4 s for the 134 MB pose model, about 1 s per 30 MB plus a second."""
    try:
        megabytes = Path(path).stat().st_size / 1e6
    except OSError:
        return 10
    return max(2, round(1 + megabytes / 30))


def fixed_batch(path: Path) -> Optional[bool]:
    """Is the graph's input batch fixed (the published files: 1)? From the parse the structure check shared
    (:mod:`dwpose_core.checkpoints.onnx_file`), so deciding costs no ONNX Runtime session (and no
    optimised copy of a graph the run will not use). None: cannot tell."""
    try:
        from ..checkpoints import onnx_file

        graph = onnx_file.load(path).graph
    except Exception:  # noqa: BLE001 - onnx missing or the file does not parse: ONNX Runtime will say
        return None
    weights = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in weights]
    if len(inputs) != 1:
        return None
    dims = inputs[0].type.tensor_type.shape.dim
    if not dims:
        return None
    return dims[0].HasField("dim_value") and dims[0].dim_value > 0


def detector_for_size(path: Path, size: int) -> Path:
    """A verified ONNX graph of the YOLOX in ``path`` at ``size`` x ``size`` (written on first use)."""
    return derived_graph(path, size)
