"""dwpose_core: framework-free DWPose whole-body pose (133 COCO-WholeBody keypoints).

Public API (imported lazily so that importing the package stays cheap):

- :class:`WholeBodyEstimator` (``dwpose_core.pipeline``): frames in, list of :class:`FramePose` out.
- :class:`FramePose`, :class:`Person` (``dwpose_core.types``): the data model, frame-pixel coordinates.
- ``to_pose_keypoint`` / ``from_pose_keypoint`` (``dwpose_core.formats.pose_json``): POSE_KEYPOINT JSON.
- ``draw_pose`` (``dwpose_core.render.draw``): OpenPose-style canvas at any output size.
- ``to_rgb_uint8`` (``dwpose_core.files.images``): the input normalisation rule.
- ``dwpose_core.hub``: model names, downloads, verification. ``dwpose_core.backends``: ONNX Runtime / torch.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

_EXPORTS = {
    "WholeBodyEstimator": "pipeline",
    "VideoState": "pipeline",
    "FramePose": "types",
    "Person": "types",
    "to_pose_keypoint": "formats",
    "from_pose_keypoint": "formats",
    "draw_pose": "render",
    "to_rgb_uint8": "files.images",
    "draw_poses": "render",
    "output_size": "render",
    "FormatError": "formats",
}

__all__ = list(_EXPORTS)


# Modules the README documented at the package root before the folders (release 0.1). Importing
# the old name gives the new module with a DeprecationWarning; the shim goes in the next release.
_MOVED = {"people": "selection.people", "retarget": "animate.retarget", "face_crops": "animate.face_crops"}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        head, _, tail = fullname.partition(".")
        if head == __name__ and tail in _MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = f"{__name__}.{_MOVED[spec.name.partition('.')[2]]}"
        warnings.warn(f"{spec.name} moved to {new}; the old name goes in the next release",
                      DeprecationWarning, stacklevel=3)
        return importlib.import_module(new)

    def exec_module(self, module):
        pass


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'dwpose_core' has no attribute {name!r}")
