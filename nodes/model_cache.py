"""The nodes' side of the core's one estimator pool (:mod:`dwpose_core.estimator_pool`).

Each node is a holder in the pool (``estimator:<node id>``, ``loader:<node id>``): the same
widget values give back the node's estimator; changed values load only what changed.
ComfyUI's "unload models" / "free memory" calls :func:`release_everything`.
"""
from __future__ import annotations

import logging

log = logging.getLogger("dwpose")


def estimator_models(estimator) -> list:
    """The shared InferenceModel objects an estimator holds (detector first, when it has one)."""
    return list(getattr(estimator, "models", []))


def release_everything() -> None:
    """Hook for ComfyUI's unload: every pooled estimator, then anything else the core still holds."""
    from dwpose_core.backends import release_all
    from dwpose_core.estimator_pool import POOL

    from . import comfy_bridge

    count = POOL.release_all()
    release_all()
    comfy_bridge.forget_torch_models()
    if count:
        log.info("DWPose: released %d estimator(s) at ComfyUI's request.", count)
