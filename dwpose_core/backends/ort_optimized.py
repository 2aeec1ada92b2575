"""ONNX Runtime's optimised graph, kept per machine so that the next process skips the optimiser.

Creating a session runs ORT's graph optimiser: about 0.6 s for YOLOX-L and 0.3 s for DWPose-l on
a 2-core CPU, on every process start. ORT can save the optimised graph; loading that with the
optimiser off takes about 0.1 s and runs at the same speed. The saved graph may hold CPU-specific
layouts, so it is keyed by the source file (path, size, modification time), the onnxruntime version
and the CPU, and kept in the per-user cache (``DWPOSE_CACHE_DIR``; see :mod:`dwpose_core.hub.user_cache`)
with a size/SHA-256 record like the other derived graphs. CPU provider only; ``DWPOSE_ORT_CACHE=0``
turns it off. Any problem with the cache (read-only folder, a damaged file) falls back to optimising
in memory, as before. Saved graphs count against ``DWPOSE_CACHE_LIMIT`` (least recently used go first).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
from pathlib import Path
from typing import Optional

log = logging.getLogger("dwpose")

__all__ = ["optimised_path", "enabled", "record"]


def enabled() -> bool:
    return os.environ.get("DWPOSE_ORT_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("model name", "flags")):
                    return line  # the first of them names the CPU model
    except OSError:
        pass
    return platform.processor() or platform.machine()


def optimised_path(path: Path, ort_version: str) -> Optional[Path]:
    """Where the optimised graph of ``path`` lives for this machine and onnxruntime (None: off)."""
    if not enabled():
        return None
    from .derived_graphs import cache_dir

    try:
        st = Path(path).stat()
    except OSError:
        return None
    key = "|".join([str(Path(path).resolve()), str(st.st_size), str(st.st_mtime_ns), ort_version,
                    platform.machine(), _cpu()])
    tag = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / "ort-optimised" / f"{Path(path).stem}-{tag}.onnx"


def record(graph: Path) -> None:
    """Write the size/mtime/SHA-256 record that :func:`dwpose_core.backends.derived_graphs._verified` checks."""
    from .derived_graphs import _record_path, _write_atomic, sha256_file

    from ..checkpoints import derived_cache

    st = graph.stat()
    _write_atomic(_record_path(graph), json.dumps(
        {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256_file(graph)}).encode())
    derived_cache.admit(graph)


def verified(graph: Path) -> bool:
    from .derived_graphs import _verified

    return _verified(graph)
