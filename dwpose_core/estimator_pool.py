"""One pool of estimators for the whole process, and the one rule for building them.

ComfyUI nodes and A1111 preprocessors are *holders*: each asks the pool for the estimator that
matches its :class:`ModelSetup`. The same setup again returns the holder's estimator; a changed
setup builds a new one (model files that did not change come back from the backends' reference-
counted cache, so only what changed is loaded) and gives the old one back. ``release(holder)``
gives one holder's estimator back (A1111's ``unload``); ``release_all()`` is ComfyUI's "free
memory". A model is freed when no estimator holds it any more.

Backend fallback (the one rule, :func:`dwpose_core.backends.plan.fallback_backend`): with
``backend="auto"``, a file the torch backend was planned for but cannot run (a
:class:`~dwpose_core.backends.BackendError` while loading) is loaded with ONNX Runtime instead,
with one warning, when every model is an .onnx file. A :class:`~dwpose_core.backends.DeviceError`
never falls back; an explicit ``torch`` or ``onnxruntime`` is honoured or refused with that error;
it never silently changes.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import Callable, Optional

log = logging.getLogger("dwpose")

__all__ = ["ModelSetup", "EstimatorPool", "POOL", "build_estimator"]


from .hub.registry import DEFAULTS, DETECTOR, POSE

DEFAULT_DETECTOR = DEFAULTS[DETECTOR]
DEFAULT_POSE = DEFAULTS[POSE]


@dataclass(frozen=True)
class ModelSetup:
    """Everything that decides which models are loaded, and where. ``detector=None``: no detector
    (the whole frame is one person). Model names are registry names or file paths."""

    detector: Optional[str] = DEFAULT_DETECTOR
    pose: str = DEFAULT_POSE
    backend: str = "auto"
    device: Optional[str] = None  # torch device string or ONNX Runtime provider; None = the core's choice
    precision: str = "fp32"
    providers: str = "auto"  # ONNX Runtime providers ("auto", or a name such as "cuda", "cpu")
    det_size: Optional[int] = None  # detector input size; None = the model file's own (640 for yolox_l)
    download: bool = True
    device_option: Optional[str] = None  # how the device setting is named where the user set it (messages)
    # hand model for the hand refinement pass (stages/hands.py); None = off (the default)
    refine_hands: Optional[str] = None

    def __post_init__(self) -> None:
        if self.detector in ("", "none", "None"):
            object.__setattr__(self, "detector", None)
        if self.pose in ("", None):
            object.__setattr__(self, "pose", DEFAULT_POSE)
        if self.detector is not None:
            object.__setattr__(self, "detector", str(self.detector))
        object.__setattr__(self, "pose", str(self.pose))
        if self.refine_hands in ("", "none", "None", "off"):
            object.__setattr__(self, "refine_hands", None)
        if self.refine_hands is not None:
            object.__setattr__(self, "refine_hands", str(self.refine_hands))


def build_estimator(setup: ModelSetup):
    """A :class:`~dwpose_core.pipeline.WholeBodyEstimator` for ``setup``, with the fallback rule."""
    from .backends import BackendError, DeviceError
    from .backends.plan import fallback_backend
    from .pipeline import WholeBodyEstimator

    def build(backend: str):
        return WholeBodyEstimator(setup.detector, setup.pose, backend=backend, device=setup.device,
                                  precision=setup.precision, providers=setup.providers, download=setup.download,
                                  det_size=setup.det_size, device_option=setup.device_option,
                                  hand=setup.refine_hands)

    try:
        return build(setup.backend)
    except DeviceError:  # the device asked for is not there: never a silent run elsewhere
        raise
    except BackendError as exc:
        # the plan that failed to load (set by the loader), so a file ONNX Runtime already failed is not retried
        fallback = fallback_backend(setup.backend, (setup.detector, setup.pose, setup.refine_hands),
                                    getattr(exc, "plan", None))
        if fallback is None:
            raise
        log.warning("DWPose: the torch backend cannot run these models (%s); using ONNX Runtime instead.", exc)
        try:
            return build(fallback)
        except BackendError:
            raise exc from None


class EstimatorPool:
    """holder name -> (setup, estimator), thread-safe."""

    def __init__(self, factory: Callable[[ModelSetup], object] = build_estimator):
        self._factory = factory
        self._held: dict[str, tuple[ModelSetup, object]] = {}
        self._lock = threading.RLock()

    def get(self, holder: str, setup: ModelSetup):
        with self._lock:
            current = self._held.get(holder)
            if current is not None and current[0] == setup:
                return current[1]
            estimator = self._factory(setup)  # before releasing the old one: shared files stay loaded
            self._held[holder] = (setup, estimator)
        if current is not None:
            _release(current[1])
        return estimator

    def release(self, holder: str) -> bool:
        """Give ``holder``'s estimator back; True when it had one. Never raises."""
        with self._lock:
            current = self._held.pop(holder, None)
        if current is None:
            return False
        _release(current[1])
        return True

    def release_all(self) -> int:
        """Give every estimator back; returns how many there were."""
        with self._lock:
            held = list(self._held.values())
            self._held.clear()
        for _setup, estimator in held:
            _release(estimator)
        return len(held)

    def holders(self) -> list[str]:
        with self._lock:
            return list(self._held)

    def setup_of(self, holder: str) -> Optional[ModelSetup]:
        with self._lock:
            current = self._held.get(holder)
            return current[0] if current else None

    def __len__(self) -> int:
        return len(self._held)


def _release(estimator) -> None:
    try:
        estimator.release()
    except Exception as exc:  # noqa: BLE001 - freeing must never break the caller (A1111 unload)
        log.warning("DWPose: freeing the models failed (%r); continuing.", exc)


POOL = EstimatorPool()


def with_backend(setup: ModelSetup, backend: str) -> ModelSetup:
    return replace(setup, backend=backend)
