"""dwpose_core: framework-free DWPose whole-body pose (133 COCO-WholeBody keypoints).

Public API (imported lazily so that importing the package stays cheap):

- :class:`WholeBodyEstimator` (``dwpose_core.pipeline``): frames in, list of :class:`FramePose` out.
- :class:`FramePose`, :class:`Person` (``dwpose_core.types``): the data model, frame-pixel coordinates.
- ``to_pose_keypoint`` / ``from_pose_keypoint`` (``dwpose_core.formats``): POSE_KEYPOINT JSON.
- ``draw_pose`` (``dwpose_core.render``): OpenPose-style canvas at any output size.
- ``to_rgb_uint8`` (``dwpose_core.images``): the input normalisation rule.
- ``dwpose_core.hub``: model names, downloads, verification. ``dwpose_core.backends``: ONNX Runtime / torch.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "WholeBodyEstimator": "pipeline",
    "VideoState": "pipeline",
    "FramePose": "types",
    "Person": "types",
    "to_pose_keypoint": "formats",
    "from_pose_keypoint": "formats",
    "draw_pose": "render",
    "to_rgb_uint8": "images",
    "draw_poses": "render",
    "output_size": "render",
    "FormatError": "formats",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'dwpose_core' has no attribute {name!r}")
