"""ComfyUI nodes: thin adapters over dwpose_core (the only code that imports comfy / folder_paths).

The nodes are V3 schema nodes (``io.ComfyNode``) from ``comfy_api.latest`` — which API version and
why: comfy_version.py. ComfyUI finds them through the root package's ``comfy_entrypoint``, which
returns :class:`DWPoseExtension`; nothing is registered through NODE_CLASS_MAPPINGS any more.
Node ids (the old class names), display names, inputs, their order, defaults and outputs are
those of the V1 nodes, so saved workflows load unchanged (tests/nodes/test_nodes_v3.py).

Importing this package imports ComfyUI's comfy_api (already loaded in a running ComfyUI) and
nothing heavy of ours; :meth:`DWPoseExtension.on_load` registers models/dwpose and hooks our model
cache into ComfyUI's "unload models".
"""
from __future__ import annotations

import logging

from .editor import DWPoseEditor
from .estimator import DWPoseEstimator, DWPoseModelLoader
from .json_nodes import DWPoseLoadJSON, DWPoseSaveJSON
from .pose_nodes import DWPoseRender, DWPoseSelectPeople, DWPoseSmooth
from .v3 import ComfyExtension, io
from .video_nodes import DWPoseFaceCrops, DWPoseRetarget

log = logging.getLogger("dwpose")

# Node ids (schema node_id) are public API: saved workflows refer to them. Menu order.
NODES: list[type[io.ComfyNode]] = [
    DWPoseEstimator,
    DWPoseModelLoader,
    DWPoseRender,
    DWPoseSaveJSON,
    DWPoseLoadJSON,
    DWPoseSelectPeople,
    DWPoseSmooth,
    DWPoseEditor,
    DWPoseRetarget,
    DWPoseFaceCrops,
]


def setup() -> None:
    """Register models/dwpose and the unload hook; a failure is logged, never fatal to ComfyUI.
    Safe to call more than once."""
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
    try:
        comfy_bridge.show_download_progress()
    except Exception:
        log.exception("DWPose: could not connect downloads to ComfyUI's progress bar")


class DWPoseExtension(ComfyExtension):
    async def on_load(self) -> None:
        # before get_node_list: the model combos list models/dwpose
        setup()

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)
