"""Presets: a whole model configuration (detector, detector input size, pose model) under one name.

The mapping is data, here and nowhere else; the command line (``--preset``), batch, the A1111 script
(``DWPOSE_A1111_PRESET``) and the nodes (a ``preset`` input) all read it. ``custom`` means "as given": the
detector, size and pose model the caller chose (by default today's pair, YOLOX-L 640 + DWPose-l 384).
Why each preset is what it is (measured speed on a 2-core CPU and published accuracy): README,
"Detectors and presets"; the numbers come from ``benchmarks/detectors.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .errors import HubError
from .registry import DEFAULTS, DETECTOR, POSE, find_spec

CUSTOM = "custom"


@dataclass(frozen=True)
class Preset:
    name: str
    detector: str  # registry name
    det_size: int  # the detector's square input size
    pose: str  # registry name
    summary: str  # one line for help texts and tooltips


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("fast", "yolox_tiny.onnx", 416, "dw-ll_ucoco.onnx",
           "YOLOX-Tiny 416 + DWPose-l 256x192: for CPUs; the detector does 1/24 of YOLOX-L's work"),
    Preset("balanced", "yolox_s.onnx", 640, "dw-ll_ucoco_384.onnx",
           "YOLOX-S 640 + DWPose-l 384x288: the default pose model, the detector at 1/6 of YOLOX-L's work"),
    Preset("accurate", "yolox_x.onnx", 640, "rtmw-l_384x288.onnx",
           "YOLOX-X 640 + RTMW-l 384x288: the best published accuracy (whole-body AP 70.1); for GPUs"),
)}
NAMES = (CUSTOM, *PRESETS)


class PresetError(HubError, ValueError):
    """An unknown preset name (also a ValueError: callers' argument checks catch it)."""


def check_name(name: Optional[str]) -> str:
    """The preset name, normalised ("" / None -> custom); PresetError for an unknown one."""
    text = (name or CUSTOM).strip().lower()
    if text not in NAMES:
        raise PresetError(f"Unknown preset {name!r}; use one of {', '.join(NAMES)}.")
    return text


def get(name: Optional[str]) -> Optional[Preset]:
    """The preset called ``name``; None for ``custom``."""
    return PRESETS.get(check_name(name))


def apply(name: Optional[str], *, detector: Optional[str] = None, det_size: Optional[int] = None,
          pose: Optional[str] = None) -> dict:
    """The configuration to run: ``{"detector", "det_size", "pose"}``.

    ``custom``: the values given (None = the defaults: YOLOX-L at its own size, DWPose-l 384). Another
    preset: its values, except where the caller gave one explicitly (a command line's ``--det`` next to
    ``--preset fast`` keeps the user's detector). Callers whose inputs always hold a value (node widgets)
    pass None for the ones the preset should set.
    """
    preset = get(name)
    if preset is None:
        return {"detector": detector if detector is not None else DEFAULTS[DETECTOR],
                "det_size": det_size, "pose": pose if pose is not None else DEFAULTS[POSE]}
    return {"detector": detector if detector is not None else preset.detector,
            "det_size": det_size if det_size is not None else preset.det_size,
            "pose": pose if pose is not None else preset.pose}


def unknown_models() -> list[str]:
    """Registry names a preset uses that the registry does not know (a test keeps this empty)."""
    return [n for p in PRESETS.values() for n in (p.detector, p.pose) if find_spec(n) is None]
