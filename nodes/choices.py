"""Choice lists and widget constants shared by the nodes.

Model lists show what is present (models/dwpose and the other folders the hub
searches) followed by what the registry can download; the default stays first
so that a fresh node gets it.
"""
from __future__ import annotations

import importlib.util
import logging
from typing import Sequence

log = logging.getLogger("dwpose")

NO_DETECTOR = "none"
DEFAULT_DETECTOR = "yolox_l.onnx"
DEFAULT_POSE = "dw-ll_ucoco_384.onnx"
ENABLE_DISABLE = ["enable", "disable"]
DISABLE_ENABLE = ["disable", "enable"]
PRECISIONS = ["fp32", "fp16", "bf16"]
DEVICES = ["auto", "cpu"]  # auto = ComfyUI's torch device
SELECTION_MODES = ["all", "largest", "most_confident", "top_k"]
DEFAULT_RESOLUTION = 512


def backends() -> list[str]:
    """auto / torch / onnxruntime; torch only once dwpose_core has that backend."""
    names = ["auto"]
    if _has_module("dwpose_core.backends.torch_backend"):
        names.append("torch")
    names.append("onnxruntime")
    return names


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def model_names(kind: str, folder_files: Sequence[str] = ()) -> list[str]:
    """Names for a model combo: the default first, then registry files found on disk, then other
    files in the model folders (custom or fine-tuned models), then registry files that can be downloaded."""
    default = DEFAULT_DETECTOR if kind == "detector" else DEFAULT_POSE
    try:
        from dwpose_core import hub

        statuses = [m for m in hub.list_models(kind) if m.supported]
        registry_names = {m.name for m in hub.list_models()}
    except Exception as exc:  # never break ComfyUI's node list over a scan problem
        log.warning("DWPose: could not list %s models (%s).", kind, exc)
        statuses, registry_names = [], set()
    present = [m.name for m in statuses if m.path is not None]
    custom = [f for f in folder_files if f.rsplit("/", 1)[-1] not in registry_names]
    downloadable = [m.name for m in statuses if m.path is None and m.downloadable]
    names = []
    for name in [default] + present + custom + downloadable:
        if name not in names:
            names.append(name)
    if kind == "detector":
        names.append(NO_DETECTOR)
    return names


def flag(value) -> bool:
    """"enable"/"disable" combos and BOOLEAN widgets -> bool."""
    if isinstance(value, str):
        return value.strip().lower() in ("enable", "enabled", "true", "1", "yes", "on")
    return bool(value)
