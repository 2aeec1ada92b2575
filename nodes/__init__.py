"""ComfyUI nodes: thin adapters over dwpose_core (the only code that imports comfy / folder_paths).

Importing this package registers models/dwpose with ComfyUI's folder paths and
hooks our model cache into ComfyUI's "unload models"; nothing heavy is imported.
"""
from __future__ import annotations

import logging

from .editor import DWPoseEditor
from .estimator import DWPoseEstimator, DWPoseModelLoader
from .json_nodes import DWPoseLoadJSON, DWPoseSaveJSON
from .pose_nodes import DWPoseRender, DWPoseSelectPeople, DWPoseSmooth
from .video_nodes import DWPoseFaceCrops, DWPoseRetarget

log = logging.getLogger("dwpose")

# Class names are public API: saved workflows refer to them.
NODE_CLASS_MAPPINGS = {
    "DWPoseEstimator": DWPoseEstimator,
    "DWPoseModelLoader": DWPoseModelLoader,
    "DWPoseRender": DWPoseRender,
    "DWPoseSaveJSON": DWPoseSaveJSON,
    "DWPoseLoadJSON": DWPoseLoadJSON,
    "DWPoseSelectPeople": DWPoseSelectPeople,
    "DWPoseSmooth": DWPoseSmooth,
    "DWPoseEditor": DWPoseEditor,
    "DWPoseRetarget": DWPoseRetarget,
    "DWPoseFaceCrops": DWPoseFaceCrops,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "DWPoseEstimator": "DWPose Estimator",
    "DWPoseModelLoader": "DWPose Model Loader",
    "DWPoseRender": "DWPose Render",
    "DWPoseSaveJSON": "DWPose Save JSON",
    "DWPoseLoadJSON": "DWPose Load JSON",
    "DWPoseSelectPeople": "DWPose Select People",
    "DWPoseSmooth": "DWPose Smooth",
    "DWPoseEditor": "DWPose Editor",
    "DWPoseRetarget": "DWPose Retarget",
    "DWPoseFaceCrops": "DWPose Face Crops",
}


def setup() -> None:
    """Register models/dwpose and the unload hook; a failure is logged, never fatal to ComfyUI."""
    from . import comfy_bridge
    from .model_cache import release_everything

    try:
        comfy_bridge.register_model_folder()
    except Exception:
        log.exception("DWPose: could not register models/dwpose with ComfyUI")
    try:
        comfy_bridge.on_unload_models(release_everything)
    except Exception:
        log.exception("DWPose: could not hook into ComfyUI's model unloading")


setup()
