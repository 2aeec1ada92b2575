"""POSE_KEYPOINT / OpenPose JSON written and read (:mod:`.pose_json`, :mod:`.pose_reader`), the
bounded reader of untrusted JSON (:mod:`.json_text`) and ComfyUI's BOUNDING_BOX (:mod:`.boxes`).

The public names of :mod:`.pose_json` are importable from here (``from dwpose_core.formats import
to_pose_keypoint``), loaded on first use.
"""
from __future__ import annotations

import importlib

_PUBLIC = ("FormatError", "to_pose_keypoint", "from_pose_keypoint", "save_json", "load_json", "openpose18",
           "COCO_FROM_BODY25", "MAX_PEOPLE_PER_FRAME")
__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(".pose_json", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
