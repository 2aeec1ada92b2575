"""The whole job, once: frames -> people -> POSE_KEYPOINT (+ pose pictures, person boxes, face crops).

The CLI, the ComfyUI nodes, the A1111 preprocessor and the batch command are adapters around
:class:`PoseAnnotator`: they parse their own arguments into :class:`AnnotateOptions`, convert their
types to frames, call it and convert the :class:`Annotation` back. Every rule about the job lives
here, once:

- **Parts** (``body``, ``hands``, ``face``, ``feet``): a part that is switched off is absent from the
  JSON *and* the picture; a part that is on is in both (the profile decides how it is drawn, and a
  profile that never draws a part leaves it out of the picture only). ``feet`` is off by default: the
  common openpose ControlNets were trained without feet.
- **Smoothing implies tracking**: the smoother follows people by identity, so ``smoothing > 0`` turns
  tracking on, and person selection is then made per track over the clip (the same person in every
  frame), exactly as with ``tracking=True``.
- **Selection with tracking bounds the work**: tracks are ranked on their boxes before the pose stage,
  and only the chosen people are posed (see :mod:`dwpose_core.pipeline`).
- **Hand refinement** (off by default) is a model choice, so it lives in
  :class:`~dwpose_core.estimator_pool.ModelSetup` (``refine_hands``: a hand model's registry name or
  path): every found hand is re-estimated on its own crop and replaced when the hand model is more
  confident (:mod:`dwpose_core.stages.hands`); the JSON's per-person ``refined_hands`` says which.
- **Backend fallback**: see :func:`dwpose_core.estimator_pool.build_estimator` (``auto`` falls back to
  ONNX Runtime when torch cannot run a file; an explicit backend is honoured or refused).

>>> annotator = PoseAnnotator.from_setup(ModelSetup(detector=None, pose="dw-ll_ucoco_384.onnx"))
>>> result = annotator(frames)          # Annotation(poses, pose_keypoint, pictures, boxes, face_crops)
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .selection.modes import SELECTION_MODES
from .types import FramePose

__all__ = ["PART_NAMES", "Parts", "AnnotateOptions", "Annotation", "PoseAnnotator", "ClipState"]

PART_NAMES = ("body", "hands", "face", "feet")
DEFAULT_PROFILE = "controlnet"


@dataclass(frozen=True)
class Parts:
    """Which parts of each person are kept (in the JSON and the picture)."""

    body: bool = True
    hands: bool = True
    face: bool = True
    feet: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name)) for name in PART_NAMES}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name in PART_NAMES if getattr(self, name))


@dataclass(frozen=True)
class AnnotateOptions:
    """Every option of the job. Defaults are the CLI's; the nodes set their own widgets' defaults."""

    parts: Parts = field(default_factory=Parts)
    # who
    selection: str = "all"
    top_k: int = 1
    max_people: Optional[int] = None
    # detection
    det_threshold: float = 0.3
    nms_threshold: float = 0.45
    candidate_threshold: float = 0.1
    max_detections: int = 100
    # video
    tracking: bool = False
    smoothing: float = 0.0
    det_every: int = 1
    # pictures
    draw: bool = True
    resolution: Optional[int] = None  # short side of the picture; None = the frame's own size
    size: Optional[tuple[int, int]] = None  # (W, H) of the picture, instead of resolution
    xinsir: bool = False
    profile: str = DEFAULT_PROFILE
    face_crops: Optional[int] = None  # side of the face crops; None = no crops
    # work
    chunk_size: int = 16

    def __post_init__(self) -> None:
        self.validate()

    @property
    def tracks(self) -> bool:
        """Whether identities are tracked: asked for, or needed by smoothing."""
        return bool(self.tracking or self.smoothing > 0)

    def validate(self) -> None:
        """Raise ValueError naming the option when a value is out of range."""
        if self.selection not in SELECTION_MODES:
            raise ValueError(f"selection must be one of {', '.join(SELECTION_MODES)}, got {self.selection!r}")
        checks = [
            (self.top_k >= 1, f"top_k must be >= 1, got {self.top_k}"),
            (self.max_people is None or self.max_people >= 0, f"max_people must be >= 0, got {self.max_people}"),
            (0.0 < self.det_threshold <= 1.0, f"det_threshold must be in (0, 1], got {self.det_threshold}"),
            (0.0 < self.nms_threshold <= 1.0, f"nms_threshold must be in (0, 1], got {self.nms_threshold}"),
            (0.0 <= self.candidate_threshold <= 1.0,
             f"candidate_threshold must be in [0, 1], got {self.candidate_threshold}"),
            (self.max_detections >= 1, f"max_detections must be >= 1, got {self.max_detections}"),
            (self.smoothing >= 0, f"smoothing must be >= 0 (0 = off), got {self.smoothing}"),
            (self.det_every >= 1, f"det_every must be >= 1, got {self.det_every}"),
            (self.resolution is None or self.resolution >= 64, f"resolution must be >= 64, got {self.resolution}"),
            (self.size is None or (len(self.size) == 2 and min(self.size) >= 1),
             f"size must be (width, height) >= 1, got {self.size}"),
            (self.face_crops is None or 16 <= self.face_crops <= 4096,
             f"face crop size must be within 16..4096, got {self.face_crops}"),
            (self.chunk_size >= 1, f"chunk_size must be >= 1, got {self.chunk_size}"),
            (self.resolution is None or self.size is None, "give either resolution or size, not both"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        _check_profile(self.profile)

    def with_(self, **changes: Any) -> "AnnotateOptions":
        return replace(self, **changes)


def _check_profile(name: str) -> None:
    try:
        from .render.profiles import PROFILES
    except ImportError:  # profiles not available: only the default drawing
        names: Sequence[str] = (DEFAULT_PROFILE,)
    else:
        names = tuple(PROFILES)
    if name not in names:
        raise ValueError(f"profile must be one of {', '.join(names)}, got {name!r}")


@dataclass
class ClipState:
    """Carried from one batch (chunk) of a clip to the next: tracking, smoothing, detection schedule,
    face-crop boxes. Pass the same object with consecutive batches of one clip."""

    video: Any = None  # pipeline.VideoState
    face: Any = None  # face_crops state
    frames_done: int = 0


@dataclass
class Annotation:
    """What one call returns. ``boxes[i]``: (K, 4) float32 x1, y1, x2, y2 of frame i's people (in the
    order of ``poses[i].people``); ``pictures`` only when drawing was asked; ``face_crops`` is
    ``(crops (N, S, S, 3) uint8, boxes (N, 4))`` of the first chosen person when asked."""

    poses: list[FramePose]
    pose_keypoint: list[dict]
    pictures: Optional[list[np.ndarray]] = None
    boxes: list[np.ndarray] = field(default_factory=list)
    face_crops: Optional[tuple[np.ndarray, np.ndarray]] = None


class PoseAnnotator:
    """The job over one :class:`~dwpose_core.pipeline.WholeBodyEstimator` and one set of options."""

    def __init__(self, estimator, options: Optional[AnnotateOptions] = None):
        self.estimator = estimator
        self.options = options if options is not None else AnnotateOptions()

    @classmethod
    def from_setup(cls, setup=None, options: Optional[AnnotateOptions] = None, *, holder: Optional[str] = None,
                   pool=None) -> "PoseAnnotator":
        """Build (or, with ``holder``, reuse from the process-wide pool) the estimator for ``setup``."""
        from .estimator_pool import POOL, ModelSetup, build_estimator

        setup = setup if setup is not None else ModelSetup()
        if holder is None:
            return cls(build_estimator(setup), options)
        return cls((pool or POOL).get(holder, setup), options)

    def __call__(self, frames, *, boxes: Optional[Sequence[Any]] = None, state: Optional[ClipState] = None,
                 progress: Optional[Callable[[int, int], None]] = None, draw: Optional[bool] = None
                 ) -> Annotation:
        """Annotate ``frames`` (list of H x W x 3 arrays or an (N, H, W, 3) array; see
        :mod:`dwpose_core.files.images`). ``boxes``: per frame an (K, 4) array of person boxes
        [x1, y1, x2, y2] in frame pixels (or a ComfyUI BOUNDING_BOX list): given, they are the
        people and the detector does not run. ``state``: pass the same :class:`ClipState` with
        consecutive batches of one clip. ``progress(done, total)`` after every chunk; it may raise
        to interrupt."""
        from .pipeline import VideoState, normalise_frames

        opts = self.options
        frames = normalise_frames(frames)
        given = _frame_boxes(boxes, len(frames)) if boxes is not None else None
        if state is None:
            state = ClipState()
        if state.video is None:
            state.video = VideoState()
        poses = self.estimator(
            frames, det_threshold=opts.det_threshold, nms_threshold=opts.nms_threshold,
            candidate_threshold=opts.candidate_threshold, max_people=opts.max_people,
            selection=opts.selection, top_k=opts.top_k, chunk_size=opts.chunk_size, progress=progress,
            track=opts.tracks, det_every=opts.det_every, smoothing=opts.smoothing, video_state=state.video,
            boxes=given, max_detections=opts.max_detections)
        for pose in poses:
            pose.parts = opts.parts.names
        pose_keypoint = export(poses, opts)
        pictures = draw_all(poses, opts) if (opts.draw if draw is None else draw) else None
        crops = None
        if opts.face_crops:
            crops = _face_crops(frames, poses, opts, state)
        state.frames_done += len(frames)
        return Annotation(poses, pose_keypoint, pictures, [_person_boxes(p) for p in poses], crops)


def export(poses: Sequence[FramePose], options: AnnotateOptions) -> list[dict]:
    """POSE_KEYPOINT of ``poses`` with the options' parts."""
    from .formats.pose_json import to_pose_keypoint

    return to_pose_keypoint(list(poses), **options.parts.as_dict())


def draw_all(poses: Sequence[FramePose], options: AnnotateOptions) -> list[np.ndarray]:
    """The pose pictures of ``poses`` with the options' parts, size and profile."""
    from .render.draw import draw_pose

    kwargs: dict[str, Any] = dict(options.parts.as_dict(), xinsir=options.xinsir)
    if options.size is not None:
        kwargs["size"] = tuple(int(v) for v in options.size)
    else:
        kwargs["resolution"] = options.resolution
    if options.profile != DEFAULT_PROFILE:
        kwargs["profile"] = options.profile
    return [draw_pose(pose, **kwargs) for pose in poses]


def _person_boxes(pose: FramePose) -> np.ndarray:
    if not pose.people:
        return np.zeros((0, 4), np.float32)
    return np.stack([np.asarray(p.box, np.float32) for p in pose.people])


def _frame_boxes(boxes, n_frames: int) -> Optional[list[np.ndarray]]:
    """Per-frame (K, 4) float arrays from arrays or ComfyUI BOUNDING_BOX values (one frame's boxes
    are used for every frame). An empty dict is "not connected" (what an old UI sends), so None."""
    if isinstance(boxes, dict) and not boxes:
        return None
    if isinstance(boxes, np.ndarray) and boxes.ndim == 2:
        boxes = [boxes]
    if isinstance(boxes, dict) or (isinstance(boxes, (list, tuple)) and any(
            isinstance(b, dict) or (isinstance(b, (list, tuple)) and b and isinstance(b[0], dict)) for b in boxes)):
        from .formats.boxes import from_bounding_box

        return from_bounding_box(boxes, n_frames=n_frames)
    out = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in boxes]
    if len(out) == 1 and n_frames > 1:
        out = out * n_frames
    if len(out) != n_frames:
        raise ValueError(f"boxes are given for {len(out)} frames but there are {n_frames} frames")
    for i, arr in enumerate(out):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"boxes of frame {i} are not finite")
    return [arr.astype(np.float32) for arr in out]


def _face_crops(frames, poses, opts: AnnotateOptions, state: ClipState):
    from .animate import face_crops

    result = face_crops.face_crops(frames, poses, size=int(opts.face_crops), state=state.face)
    state.face = getattr(result, "state", state.face)
    return result.crops, result.boxes


def option_names() -> tuple[str, ...]:
    """Names of every option (the adapters' tests check they expose them)."""
    return tuple(f.name for f in fields(AnnotateOptions))
