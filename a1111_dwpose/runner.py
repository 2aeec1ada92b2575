"""The preprocessor's work, independent of which registry shows it.

One estimator (detector + pose model) is shared by every variant: the variants only
differ in what they draw and export. Each variant remembers whether it used the
estimator, so that ControlNet's "unload every preprocessor that is not active"
before a generation frees the models only when no variant still needs them.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from . import host

_PREFIX = "[DWPose]"


@dataclass(frozen=True)
class Variant:
    """One dropdown entry. ``name`` and ``label`` both contain "openpose": ControlNet
    passes its JSON callback (and shows the pose JSON upload/editor) only for such modules."""

    name: str
    label: str
    hands: bool
    face: bool
    body: bool = True
    feet: bool = False  # ControlNet's OpenPose models were trained without feet


VARIANTS: tuple[Variant, ...] = (
    Variant("dwpose_openpose_full", "dwpose_openpose_full (DWPose extension)", hands=True, face=True),
    Variant("dwpose_openpose_body_hands", "dwpose_openpose_body_hands (DWPose extension)", hands=True, face=False),
)

DEFAULT_DETECTOR = "yolox_l.onnx"
DEFAULT_POSE = "dw-ll_ucoco_384.onnx"


class EstimatorCache:
    """Lazily built :class:`dwpose_core.pipeline.WholeBodyEstimator`, shared and thread-safe.

    Defaults: the torch backend on A1111's ControlNet device; the models sd-webui-controlnet
    already uses (``yolox_l.onnx``, ``dw-ll_ucoco_384.onnx``), found through our hub, which
    also looks in A1111's openpose folders. Environment overrides for advanced users:
    ``DWPOSE_A1111_BACKEND`` (torch / onnxruntime / auto), ``DWPOSE_A1111_DETECTOR``,
    ``DWPOSE_A1111_POSE`` (registry names or paths).
    """

    def __init__(self, backend: Optional[str] = None, detector: Optional[str] = None,
                 pose: Optional[str] = None, device: Optional[str] = None):
        self.backend = backend or os.environ.get("DWPOSE_A1111_BACKEND") or "torch"
        self.detector = detector or os.environ.get("DWPOSE_A1111_DETECTOR") or DEFAULT_DETECTOR
        self.pose = pose or os.environ.get("DWPOSE_A1111_POSE") or DEFAULT_POSE
        self.device = device
        self._lock = threading.RLock()
        self._estimator = None
        self._users: set[str] = set()
        self._dirs_registered = False
        self._fallback: Optional[str] = None  # backend chosen after the configured one failed

    def configure(self, **settings: Any) -> None:
        """Change backend/detector/pose/device; the next call rebuilds the estimator."""
        with self._lock:
            for key, value in settings.items():
                if key not in ("backend", "detector", "pose", "device"):
                    raise TypeError(f"Unknown setting {key!r}; use backend, detector, pose or device.")
                setattr(self, key, value)
            self._fallback = None
            self._free()

    @property
    def loaded(self) -> bool:
        return self._estimator is not None

    def estimate(self, user: str, image: np.ndarray):
        """The FramePose of one image (uint8 RGB H x W x 3, or anything images.to_rgb_uint8 takes)."""
        with self._lock:
            if self._estimator is None:
                self._estimator = self._build()
            self._users.add(user)
            return self._estimator([image])[0]

    def release(self, user: str) -> bool:
        """``user`` no longer needs the models; free them once nobody does. Never raises."""
        with self._lock:
            was_user = user in self._users
            self._users.discard(user)
            if not was_user or self._users or self._estimator is None:
                return False
            return self._free()

    def release_all(self) -> bool:
        with self._lock:
            self._users.clear()
            return self._free()

    def _free(self) -> bool:
        estimator, self._estimator = self._estimator, None
        if estimator is None:
            return False
        try:
            estimator.release()
        except Exception as exc:  # ControlNet calls unload() before every generation: never raise
            print(f"{_PREFIX} freeing the models failed ({exc!r}); continuing.")
        return True

    def _build(self):
        with host.core_importable():
            from dwpose_core.pipeline import WholeBodyEstimator

            self._register_model_dirs()
            backend = self._fallback or self.backend
            if backend == "torch" and not _torch_backend_importable():
                print(f"{_PREFIX} the torch backend is unavailable here; using backend 'auto' "
                      "(ONNX Runtime) instead.")
                backend = self._fallback = "auto"
            device = self.device or host.torch_device()
            try:
                return WholeBodyEstimator(self.detector, self.pose, backend=backend, device=device)
            except Exception as exc:
                if backend != "torch" or not _is_backend_error(exc):
                    raise
                print(f"{_PREFIX} the torch backend cannot run these models ({exc}); "
                      "using ONNX Runtime instead.")
                self._fallback = "onnxruntime"  # decided once: later rebuilds go straight there
                return WholeBodyEstimator(self.detector, self.pose, backend="onnxruntime", device=device)

    def _register_model_dirs(self) -> None:
        """Let the hub find (and put) files where A1111 users keep them: see host.model_dirs."""
        if self._dirs_registered:
            return
        try:
            from dwpose_core import hub
        except ImportError:
            return
        register = getattr(hub, "register_host_dirs", None)
        if register is None:
            return
        # Callables: the hub asks again at every resolution, so settings changed later count.
        register(host.model_dirs, host.download_dir, name="a1111")
        self._dirs_registered = True


def _torch_backend_importable() -> bool:
    try:
        import dwpose_core.backends.torch_backend  # noqa: F401
    except Exception:  # ImportError, or torch itself failing to import
        return False
    return True


def _is_backend_error(exc: BaseException) -> bool:
    from dwpose_core.backends import BackendError

    return isinstance(exc, BackendError)


def output_resolution(resolution) -> Optional[int]:
    """ControlNet's resolution slider value -> short side in pixels (None = the frame's own size)."""
    if resolution is None:
        return None
    try:
        value = int(round(float(resolution)))
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def run_variant(variant: Variant, cache: EstimatorCache, input_image, resolution,
                json_pose_callback: Optional[Callable[[dict], Any]] = None) -> np.ndarray:
    """Detect, draw the OpenPose map at ``resolution`` (short side), report the pose JSON."""
    with host.core_importable():
        from dwpose_core import formats, render
        from dwpose_core.images import to_rgb_uint8

    image = to_rgb_uint8(input_image)
    frame = cache.estimate(variant.name, image)
    parts = dict(body=variant.body, hands=variant.hands, face=variant.face, feet=variant.feet)
    canvas = render.draw_pose(frame, resolution=output_resolution(resolution), **parts)
    if json_pose_callback is not None:
        # Feet are not drawn (the ControlNet models never saw them) but cost nothing in the JSON.
        pose = formats.to_pose_keypoint([frame], **{**parts, "feet": True})[0]
        pose.setdefault("animals", [])  # sd-webui-controlnet's own encoder always writes it
        json_pose_callback(_json_safe(pose))
    return np.ascontiguousarray(canvas, dtype=np.uint8)


def _json_safe(data: dict) -> dict:
    """Plain Python types only (ControlNet's UI json.dumps the dict; numpy scalars would fail)."""
    return json.loads(json.dumps(data, default=_to_builtin))


def _to_builtin(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
