"""Checkpoint hub: model names -> verified local files, downloading only when needed.

    from dwpose_core import hub
    path = hub.resolve("dw-ll_ucoco_384.onnx", kind="pose")   # or a path, or None + kind for the default
    for m in hub.list_models(): print(m.name, m.path)
    hub.register_host_dirs(lambda: [comfy_dwpose_dir], lambda: comfy_dwpose_dir)  # ComfyUI / A1111 nodes

Modules, one job each: registry (the known files, as data), locate (where files
may be), download (HTTP with deadlines, atomic, verified), provenance (what a
download recorded), trust (what a found file must satisfy, by origin), verify
(size, SHA-256, structure; verdicts remembered), structure (the structural
checks), safe_pickle (the one restricted .pth reader), onnx_file (each ONNX file
parsed once), digest (the SHA-256 helper), listing, resolver, cli.

Nothing heavy is imported here: onnx loads only when a file is checked.
"""
from __future__ import annotations

from .errors import (
    CorruptModelError,
    DownloadError,
    HubError,
    ModelKindError,
    ModelNotFoundError,
    UnsupportedModelError,
)
from .locate import download_dir, register_host_dirs, unregister_host_dirs
from .registry import DEFAULTS, DETECTOR, MODELS, POSE, ModelSpec, get_spec
from .listing import ModelStatus, list_models
from .resolver import resolve
from .verify import VerifyResult

__all__ = [
    "resolve", "list_models", "get_spec", "register_host_dirs", "unregister_host_dirs", "download_dir",
    "ModelSpec", "ModelStatus", "VerifyResult", "MODELS", "DEFAULTS", "DETECTOR", "POSE",
    "HubError", "ModelNotFoundError", "CorruptModelError", "DownloadError", "UnsupportedModelError",
    "ModelKindError",
]
