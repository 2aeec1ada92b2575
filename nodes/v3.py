"""The V3 schema pieces every node module shares: ComfyUI's ``io`` / ``ui`` (from the version named
in comfy_version.py), the pack's custom socket types, search aliases, and small helpers."""
from __future__ import annotations

from .comfy_version import api

_API = api()
io = _API.io
ui = _API.ui
ComfyExtension = _API.ComfyExtension

# Socket types. POSE_KEYPOINT is ComfyUI core's name for the same data (comfy_extras/nodes_sdpose.py
# declares it as io.Custom("POSE_KEYPOINT") too); BOUNDING_BOX is core's native io.BoundingBox.
PoseKeypoint = io.Custom("POSE_KEYPOINT")
DWPoseModelType = io.Custom("DWPOSE_MODEL")

CATEGORY = "DWPose"
# Words people type in the node search for these nodes.
SEARCH_ALIASES = ["openpose", "pose", "skeleton", "keypoints", "dwpose", "rtmw"]

TIP_POSE_INPUT = ("Poses per frame, from DWPose Estimator, DWPose Load JSON or any node producing "
                  "OpenPose-style POSE_KEYPOINT.")


def pose_input(id: str = "pose_keypoint", tooltip: str = TIP_POSE_INPUT, optional: bool = False):
    return PoseKeypoint.Input(id, tooltip=tooltip, optional=optional)


def node_id(cls):
    """The running node's id (the hidden UNIQUE_ID ComfyUI fills in), or None outside a run."""
    hidden = getattr(cls, "hidden", None)
    return getattr(hidden, "unique_id", None) if hidden is not None else None


def output(*args, ui_dict=None):
    """io.NodeOutput with the pack's UI dict (the frontend reads ui["dwpose"] / ui["dwpose_editor"])."""
    return io.NodeOutput(*args, ui=ui_dict)
