"""Choice lists and widget constants shared by the nodes.

Model lists show what is present (models/dwpose and the other folders the hub
searches) followed by what the registry can download; the default stays first
so that a fresh node gets it. A custom file in the model folders is listed under
the kind the hub's structure check says it is (under both when it cannot tell).
"""
from __future__ import annotations

import importlib.util
import logging
from typing import Sequence

log = logging.getLogger("dwpose")

from dwpose_core.hub.registry import DEFAULTS, DETECTOR, POSE
from dwpose_core.backends.base import PRECISIONS as _PRECISIONS
from dwpose_core.selection.modes import SELECTION_MODES as _SELECTION_MODES

NO_DETECTOR = "none"
DEFAULT_DETECTOR = DEFAULTS[DETECTOR]
DEFAULT_POSE = DEFAULTS[POSE]
ENABLE_DISABLE = ["enable", "disable"]
DISABLE_ENABLE = ["disable", "enable"]
PRECISIONS = list(_PRECISIONS)
DEVICES = ["auto", "cpu"]  # auto = ComfyUI's torch device
SELECTION_MODES = list(_SELECTION_MODES)
DEFAULT_RESOLUTION = 512
DEFAULT_PROFILE = "controlnet"
TIP_PROFILE = ("How the pose picture is drawn, for the model it feeds: controlnet (SD/SDXL ControlNets, VACE, "
               "Wan-Fun), wan_animate, vace, unianimate, steadydancer, mimicmotion, moore. The part toggles "
               "still switch parts off on top of the profile.")


def profiles() -> list[str]:
    """Render profile names, the default first."""
    try:
        from dwpose_core.render.profiles import PROFILES
    except ImportError:
        return [DEFAULT_PROFILE]
    names = list(PROFILES)
    return [DEFAULT_PROFILE] + [n for n in names if n != DEFAULT_PROFILE]


PRESET_CUSTOM = "custom"
REFINE_OFF = "off"
TIP_PRESET = ("A whole model configuration by name (detector, detector size, pose model); 'custom' uses the "
              "model widgets as set. fast: YOLOX-Tiny 416 + DWPose-l 256 (CPUs); balanced: YOLOX-S + DWPose-l 384; "
              "accurate: YOLOX-X + RTMW-l 384 (GPUs). See the README's presets table.")
TIP_REFINE_HANDS = ("Re-estimate each found hand with a hand model on its own crop (8-10x more pixels per finger); "
                    "kept where it is more confident. The JSON's refined_hands says which. 'off' (default) skips it.")


def presets() -> list[str]:
    """custom first (the widgets as they are), then the core's presets."""
    try:
        from dwpose_core.hub.presets import NAMES
    except ImportError:
        return [PRESET_CUSTOM]
    return [PRESET_CUSTOM] + [n for n in NAMES if n != PRESET_CUSTOM]


def hand_models() -> list[str]:
    """off first, then the registry's hand models (the default first)."""
    try:
        from dwpose_core.hub.registry import hand_model_names
    except ImportError:
        return [REFINE_OFF]
    return [REFINE_OFF] + hand_model_names()


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
    custom = [f for f in folder_files if f.rsplit("/", 1)[-1] not in registry_names and not _other_kind(f, kind)]
    downloadable = [m.name for m in statuses if m.path is None and m.downloadable]
    names = []
    for name in [default] + present + custom + downloadable:
        if name not in names:
            names.append(name)
    if kind == "detector":
        names.append(NO_DETECTOR)
    return names


def _other_kind(name: str, kind: str) -> bool:
    """True when the model-folder file ``name`` is a model of the other kind (a pose model in the
    detector list, or the other way round), as the hub's structure check tells from the file.

    The check is the one loading that file runs (the same question, so the same remembered verdict:
    kept by path, size and mtime, across processes), so after the first listing it costs a stat.
    A file whose kind cannot be told (not found, unreadable, an unknown layout) belongs to both
    lists. Never raises: ComfyUI's node list must not break over one file.
    """
    try:
        from pathlib import Path

        from dwpose_core.checkpoints import onnx_file
        from dwpose_core.hub.trust import evaluate

        from . import comfy_bridge

        path = comfy_bridge.full_path(name)
        if not path:
            return False
        parsed = onnx_file.parse_count
        try:
            result = evaluate(Path(path), None, kind)
        finally:
            if onnx_file.parse_count != parsed:
                onnx_file.release(path)  # the list needs the verdict only, not the parsed graph in memory
        return result.kind is not None and result.kind != kind
    except Exception as exc:  # never break ComfyUI's node list over one file
        log.debug("DWPose: could not tell the kind of %s (%s); listing it as either.", name, exc)
        return False


def flag(value) -> bool:
    """"enable"/"disable" combos and BOOLEAN widgets -> bool."""
    if isinstance(value, str):
        return value.strip().lower() in ("enable", "enabled", "true", "1", "yes", "on")
    return bool(value)
