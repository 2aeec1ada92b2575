"""The preprocessor's work, independent of which registry shows it.

An adapter over the core's one job (:class:`dwpose_core.annotate.PoseAnnotator`) and its one
estimator pool: the variants only differ in the parts they keep. Each variant is a holder in the
pool, so ControlNet's "unload every preprocessor that is not active" before a generation frees the
models only when no variant still needs them.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from . import host



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
    pose: Optional[str] = None  # whole-body model this entry always uses (None: the configured one)


VARIANTS: tuple[Variant, ...] = (
    Variant("dwpose_openpose_full", "dwpose_openpose_full (DWPose extension)", hands=True, face=True),
    Variant("dwpose_openpose_body_hands", "dwpose_openpose_body_hands (DWPose extension)", hands=True, face=False),
    # RTMW-l 384x288: whole-body AP 70.1 / hand AP 66.3 against DWPose-l's 66.5 / 62.1 (MODELS.md).
    Variant("dwpose_openpose_full_rtmw", "dwpose_openpose_full_rtmw (DWPose extension, RTMW-l 384)", hands=True,
            face=True, pose="rtmw-l_384x288.onnx"),
)

class A1111Models:
    """The variants' models, held in the core's one estimator pool (one holder per variant).

    Defaults: backend ``auto`` (torch on A1111's ControlNet device when torch sees it, else ONNX
    Runtime; the core's one fallback rule applies) and the models sd-webui-controlnet already uses,
    found through our hub, which also looks in A1111's openpose folders. Environment overrides for
    advanced users: ``DWPOSE_A1111_BACKEND`` (auto / torch / onnxruntime), ``DWPOSE_A1111_DETECTOR``,
    ``DWPOSE_A1111_POSE`` (registry names or paths), ``DWPOSE_A1111_PRESET`` (fast / balanced / accurate /
    custom: a whole configuration from ``dwpose_core.hub.presets``; DETECTOR / POSE given as well win over
    it), ``DWPOSE_A1111_REFINE_HANDS`` (the hand refinement pass: ``1`` / ``on`` for the default hand
    model, a hand model's registry name or path, unset / ``0`` / ``off`` = off). Models are freed when
    no variant holds them.
    """

    def __init__(self, backend: Optional[str] = None, detector: Optional[str] = None,
                 pose: Optional[str] = None, device: Optional[str] = None, preset: Optional[str] = None,
                 refine_hands: Optional[str] = None):
        self.backend = backend or os.environ.get("DWPOSE_A1111_BACKEND") or "auto"
        self.detector = detector or os.environ.get("DWPOSE_A1111_DETECTOR") or None
        self.pose = pose or os.environ.get("DWPOSE_A1111_POSE") or None
        self.preset = preset or os.environ.get("DWPOSE_A1111_PRESET") or "custom"
        self.refine_hands = refine_hands or os.environ.get("DWPOSE_A1111_REFINE_HANDS") or None
        self.device = device
        self._lock = threading.RLock()
        self._users: set[str] = set()
        self._dirs_registered = False

    def configure(self, **settings: Any) -> None:
        """Change backend/detector/pose/device; the next call rebuilds the estimators."""
        with self._lock:
            for key, value in settings.items():
                if key not in ("backend", "detector", "pose", "device", "preset", "refine_hands"):
                    raise TypeError(f"Unknown setting {key!r}; use backend, detector, pose, device, preset "
                                    "or refine_hands.")
                setattr(self, key, value)
            self.release_all()

    @property
    def loaded(self) -> bool:
        return bool(self._users)

    def _setup(self, pose: Optional[str] = None):
        with host.core_importable():
            from dwpose_core.estimator_pool import ModelSetup
            from dwpose_core.hub import presets

        try:
            chosen = presets.apply(self.preset, detector=self.detector or None, pose=self.pose or None)
        except presets.PresetError as exc:
            raise presets.PresetError(f"DWPOSE_A1111_PRESET: {exc}") from None
        if pose:  # an entry bound to one whole-body model (Variant.pose)
            chosen["pose"] = pose
        return ModelSetup(backend=self.backend, device=self.device or host.torch_device(),
                          device_option="ControlNet's device", refine_hands=hand_model_setting(self.refine_hands),
                          **chosen)

    def estimator(self, user: str, pose: Optional[str] = None):
        with host.core_importable():
            from dwpose_core.estimator_pool import POOL

            with self._lock:
                self._register_model_dirs()
                estimator = POOL.get(_holder(user), self._setup(pose))
                self._users.add(user)
                return estimator

    def estimate(self, user: str, image: np.ndarray):
        """The FramePose of one image (uint8 RGB H x W x 3, or anything images.to_rgb_uint8 takes)."""
        return self.estimator(user)([image])[0]

    def release(self, user: str) -> bool:
        """``user`` no longer needs the models; they are freed once nobody holds them. Never raises."""
        with host.core_importable():
            from dwpose_core.estimator_pool import POOL

        with self._lock:
            if user not in self._users:
                return False
            self._users.discard(user)
            POOL.release(_holder(user))
            return not self._users

    def release_all(self) -> bool:
        with self._lock:
            users, had = list(self._users), bool(self._users)
            for user in users:
                self.release(user)
            return had

    def _register_model_dirs(self) -> None:
        """Let the hub find (and put) files where A1111 users keep them: see host.model_dirs."""
        if self._dirs_registered:
            return
        from dwpose_core import hub

        # Callables: the hub asks again at every resolution, so settings changed later count.
        hub.register_host_dirs(host.model_dirs, host.download_dir, name="a1111")
        self._dirs_registered = True


def hand_model_setting(value: Optional[str]) -> Optional[str]:
    """DWPOSE_A1111_REFINE_HANDS -> the hand model to use, or None (off)."""
    text = (value or "").strip()
    if text.lower() in ("", "0", "off", "false", "no", "none"):
        return None
    if text.lower() in ("1", "on", "true", "yes"):
        with host.core_importable():
            from dwpose_core.hub.registry import DEFAULT_HAND
        return DEFAULT_HAND
    return text


def _holder(user: str) -> str:
    return f"a1111:{user}"


def output_resolution(resolution) -> Optional[int]:
    """ControlNet's resolution slider value -> short side in pixels (None = the frame's own size)."""
    if resolution is None:
        return None
    try:
        value = int(round(float(resolution)))
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def run_variant(variant: Variant, models: A1111Models, input_image, resolution,
                json_pose_callback: Optional[Callable[[dict], Any]] = None) -> np.ndarray:
    """The core's job on one image: the OpenPose map at ``resolution`` (short side), and the JSON."""
    with host.core_importable():
        from dwpose_core.annotate import AnnotateOptions, Parts, PoseAnnotator

    options = AnnotateOptions(parts=Parts(body=variant.body, hands=variant.hands, face=variant.face,
                                          feet=variant.feet),
                              resolution=output_resolution(resolution))
    result = PoseAnnotator(models.estimator(variant.name, variant.pose), options)([input_image])
    if json_pose_callback is not None:
        pose = dict(result.pose_keypoint[0])
        pose.setdefault("animals", [])  # sd-webui-controlnet's own encoder always writes it
        json_pose_callback(_json_safe(pose))
    return np.ascontiguousarray(result.pictures[0], dtype=np.uint8)


def _json_safe(data: dict) -> dict:
    """Plain Python types only (ControlNet's UI json.dumps the dict; numpy scalars would fail)."""
    return json.loads(json.dumps(data, default=_to_builtin))


def _to_builtin(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
