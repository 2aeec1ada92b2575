"""Estimators kept across runs, one per node, keyed by the node's model widgets.

A node asks for the estimator that matches its widget values. Same values:
the estimator from the last run. Changed values: a new estimator; model files
that did not change come back from the core's process-wide model cache, so
only what changed is loaded, and models no node uses any more are released.
ComfyUI's "unload models" / "free memory" calls :meth:`EstimatorCache.release_all`.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Optional

log = logging.getLogger("dwpose")


@dataclass(frozen=True)
class ModelSpec:
    """Everything that decides which models are loaded, and where."""

    detector: Optional[str]  # registry name, path, or None for "no detector"
    pose: str
    backend: str = "auto"
    device: Optional[str] = None  # a torch device string; None = the core's choice
    precision: str = "fp32"


def build_estimator(spec: ModelSpec):
    from dwpose_core.pipeline import WholeBodyEstimator

    return WholeBodyEstimator(detector=spec.detector, pose=spec.pose, backend=spec.backend,
                              device=spec.device, precision=spec.precision)


def estimator_models(estimator) -> list:
    """The InferenceModel objects an estimator holds (detector first, when it has one)."""
    models = []
    detector = getattr(estimator, "detector", None)
    if detector is not None:
        models.append(detector.model)
    pose = getattr(estimator, "pose", None)
    if pose is not None:
        models.append(pose.model)
    return models


def _release_model(model) -> None:
    from dwpose_core.backends import release_model

    release_model(model)


class EstimatorCache:
    """slot (a node id) -> (spec, estimator)."""

    def __init__(self, factory: Callable[[ModelSpec], object] = build_estimator,
                 release: Callable[[object], None] = _release_model):
        self._factory = factory
        self._release = release
        self._slots: dict[str, tuple[ModelSpec, object]] = {}
        self._lock = threading.RLock()

    def get(self, slot: str, spec: ModelSpec):
        with self._lock:
            current = self._slots.get(slot)
            if current is not None and current[0] == spec:
                return current[1]
            estimator = self._factory(spec)
            self._slots[slot] = (spec, estimator)
            if current is not None:
                self._release_unused(estimator_models(current[1]))
            return estimator

    def _release_unused(self, models: list) -> None:
        in_use = {id(m) for _spec, est in self._slots.values() for m in estimator_models(est)}
        for model in models:
            if id(model) not in in_use:
                self._release(model)

    def release_all(self) -> int:
        """Forget every estimator and free its models; returns how many models were freed."""
        with self._lock:
            entries = list(self._slots.values())
            self._slots.clear()
        released = set()
        for _spec, est in entries:
            for model in estimator_models(est):
                if id(model) not in released:
                    released.add(id(model))
                    self._release(model)
        return len(released)

    def __len__(self) -> int:
        return len(self._slots)


CACHE = EstimatorCache()


def release_everything() -> None:
    """Hook for ComfyUI's unload: our estimators, then anything else the core still holds."""
    count = CACHE.release_all()
    from dwpose_core.backends import release_all

    from . import comfy_bridge

    release_all()
    comfy_bridge.forget_torch_models()
    if count:
        log.info("DWPose: released %d model(s) at ComfyUI's request.", count)
