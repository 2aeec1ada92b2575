"""The one entry point: frames in, people out.

>>> est = WholeBodyEstimator(detector="yolox_l.onnx", pose="dw-ll_ucoco_384.onnx")
>>> poses = est(frames)            # list of FramePose, one per frame
>>> est.info                       # what runs each model, e.g. onnxruntime on CPUExecutionProvider

``frames``: a list of H x W x 3 uint8 RGB arrays or an (N, H, W, 3) array (other
dtypes and channel counts follow :mod:`dwpose_core.files.images`). All crops of a
chunk of frames go through the pose model together. The ``progress`` callback
runs after every chunk with (frames done, total) and may raise to interrupt.
The pipeline composes stages; the maths lives in detection, pose, selection
and temporal.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from .backends import acquire_model
from .backends.plan import check_request
from .stages.detection import DetectionThresholds, PersonDetector, check_det_size, sanitize_boxes
from .files.images import to_frame_list
from .stages.hands import HandPoseModel, load_hand_model, refine_hands
from .stages.pose import WholeBodyPoseModel
from .selection.modes import check_mode, select_indices
from .types import FramePose, Person

log = logging.getLogger("dwpose")

from .hub.registry import DEFAULTS as _DEFAULTS  # noqa: E402 - the registry names the defaults

DEFAULT_DETECTOR = _DEFAULTS["detector"]
DEFAULT_POSE = _DEFAULTS["pose"]
ModelRef = Union[str, Path]


@dataclass
class VideoState:
    """Carried from one batch to the next batch of the same clip (tracking, smoothing, det-every-N)."""

    tracker: Any = None
    smoother: Any = None
    box_tracker: Any = None  # tracks on boxes alone, for choosing people before the pose stage
    frames_seen: int = 0
    last_frame: Optional[FramePose] = None


def resolve_model(ref: ModelRef, kind: str, download: bool = True) -> tuple[Path, Optional[str]]:
    """A path or registry name -> (checked local file, channel order from the registry or None).

    Paths go through the hub too: it checks a file's structure before use, so a truncated
    or wrong file is a clear message instead of an ONNX parse error.
    """
    from . import hub

    resolved = Path(hub.resolve(str(ref), kind=kind, download=download))
    try:
        spec = hub.get_spec(resolved.name)
    except Exception:  # a custom file not in the registry: the stage defaults apply
        spec = None
    return resolved, getattr(spec, "channel_order", None)


def normalise_frames(frames) -> list[np.ndarray]:
    """Frames in any accepted form (see :func:`dwpose_core.files.images.to_frame_list`) -> uint8 RGB list."""
    return to_frame_list(frames)


class WholeBodyEstimator:
    """YOLOX person detection + DWPose whole-body pose, models loaded once and reused.

    ``det_size``: the detector's square input size (a multiple of 32); ``device_option``: how the
    device is named where the user chose it (``--device`` on the command line, a widget in ComfyUI),
    so that a device problem names the right thing. ``hand``: a 21-point hand model (registry name or
    path) for the hand refinement pass (:mod:`dwpose_core.stages.hands`); None = off.
    """

    def __init__(self, detector: Optional[ModelRef] = DEFAULT_DETECTOR, pose: ModelRef = DEFAULT_POSE, *,
                 backend: str = "auto", device: Optional[str] = None, precision: str = "fp32",
                 providers="auto", download: bool = True, det_size: Optional[int] = None,
                 device_option: Optional[str] = None, hand: Optional[ModelRef] = None):
        load = dict(backend=backend, device=device, precision=precision, providers=providers,
                    option_name=device_option)
        self.detector: Optional[PersonDetector] = None
        self.hand: Optional[HandPoseModel] = None
        self._handles: list = []
        check_request((detector, pose, hand), backend)  # e.g. a .pth under onnxruntime: before any download
        try:
            if detector not in (None, "", "none", "None"):
                det_path, order = resolve_model(detector, "detector", download)
                size = _det_size(det_size, det_path)
                handle = acquire_model(det_path, det_size=size, **load)
                self._handles.append(handle)
                self.detector = PersonDetector(handle, channel_order=order or "bgr", det_size=size)
            pose_path, _ = resolve_model(pose, "pose", download)
            handle = acquire_model(pose_path, batch="any", **load)
            self._handles.append(handle)
            self.pose = WholeBodyPoseModel(handle)
            if hand not in (None, "", "none", "None"):
                hand_path, _ = resolve_model(hand, "pose", download)
                handle = acquire_model(hand_path, batch="any", **load)
                self._handles.append(handle)
                self.hand = load_hand_model(handle)
        except BaseException:
            self.release()  # do not keep a half-built estimator's models (GPU memory)
            raise

    @property
    def info(self) -> dict:
        info = {"detector": self.detector.model.info if self.detector else None, "pose": self.pose.model.info}
        if self.hand is not None:
            info["hand"] = self.hand.model.info
        return info

    @property
    def models(self) -> list:
        """The shared models this estimator holds (detector first), e.g. for a host's memory manager."""
        return [h.model for h in self._handles if not h.released]

    def release(self) -> None:
        """Give this estimator's models back (freed when no other holder has them); the estimator is
        unusable afterwards. Releasing twice is a no-op."""
        for handle in self._handles:
            handle.release()

    @property
    def _released(self) -> bool:
        return bool(self._handles) and all(h.released for h in self._handles)

    def __call__(self, frames, *, det_threshold: float = 0.3, nms_threshold: float = 0.45,
                 candidate_threshold: float = 0.1, max_people: Optional[int] = None, selection: str = "all",
                 top_k: int = 1, chunk_size: int = 16,
                 progress: Optional[Callable[[int, int], None]] = None,
                 track: bool = False, det_every: int = 1, smoothing: float = 0.0,
                 video_state: Optional[VideoState] = None, boxes: Optional[Sequence[np.ndarray]] = None,
                 max_detections: int = 100) -> list[FramePose]:
        """Poses of ``frames``. ``boxes``: per frame (K, 4) person boxes that replace the detector.

        With ``track`` and a selection (``selection`` other than "all", or ``max_people``), people
        are tracked on their boxes first and only the chosen tracks are posed."""
        check_mode(selection)
        if self._released:
            raise RuntimeError("This estimator was released; build a new one.")
        if det_every < 1:
            raise ValueError(f"det_every must be >= 1, got {det_every}.")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
        frames = normalise_frames(frames)
        if boxes is not None and len(boxes) != len(frames):
            raise ValueError(f"boxes are given for {len(boxes)} frames but there are {len(frames)} frames.")
        thresholds = _thresholds(candidate_threshold, nms_threshold, det_threshold, max_detections)
        state = video_state if video_state is not None else VideoState()
        select_tracks_first = track and (selection != "all" or max_people is not None)
        # With tracking, selection is decided per track over the clip, not per frame.
        select = dict(mode="all" if track else selection, top_k=top_k, max_people=None if track else max_people)
        ranking = dict(mode=selection, top_k=top_k, max_people=max_people) if select_tracks_first else None

        results: list[FramePose] = []
        per_frame = det_every > 1 and self.detector is not None and boxes is None
        for start in range(0, len(frames), chunk_size):
            chunk = frames[start:start + chunk_size]
            if not per_frame:
                given = None if boxes is None else [_given(b) for b in boxes[start:start + chunk_size]]
                results.extend(self._estimate_chunk(chunk, thresholds, select, given, state, ranking))
            else:
                for frame in chunk:
                    due = state.frames_seen % det_every == 0 or state.last_frame is None \
                        or not state.last_frame.people
                    given = None if due else [_boxes_from_previous(state.last_frame, frame)]
                    pose = self._estimate_chunk([frame], thresholds, select, given, state, ranking)[0]
                    state.last_frame = pose
                    state.frames_seen += 1
                    results.append(pose)
            if progress is not None:
                progress(min(start + chunk_size, len(frames)), len(frames))
        if not per_frame:
            state.frames_seen += len(frames)
            state.last_frame = results[-1] if results else state.last_frame
        if track or smoothing > 0:
            results = _apply_temporal(results, state, track and not select_tracks_first, selection, top_k,
                                      max_people, smoothing)
        return results

    def _detect(self, frames: list[np.ndarray], thresholds, given) -> list[tuple[np.ndarray, np.ndarray]]:
        if given is not None:
            # Boxes from outside (or carried from the previous frame) follow the detector's rules:
            # clipped to the frame, empty or non-finite ones dropped, at most max_detections.
            return [sanitize_boxes(b, s, f.shape[:2], thresholds.max_detections) for (b, s), f in zip(given, frames)]
        if self.detector is not None:
            return self.detector(frames, thresholds)
        return [(np.array([[0, 0, f.shape[1], f.shape[0]]], np.float32), np.ones(1, np.float32)) for f in frames]

    def _estimate_chunk(self, frames: list[np.ndarray], thresholds, select: dict, given, state: VideoState,
                        ranking: Optional[dict]) -> list[FramePose]:
        detections = self._detect(frames, thresholds, given)
        if ranking is not None:
            detections = _choose_tracks_on_boxes(frames, detections, state, ranking)
        frame_index, boxes, box_scores = [], [], []
        for i, (b, s) in enumerate(detections):
            areas = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
            keep = select_indices(areas.tolist(), s.tolist(), **select)
            frame_index += [i] * len(keep)
            boxes.append(b[keep].reshape(-1, 4))
            box_scores.append(s[keep].reshape(-1))
        boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)
        box_scores = np.concatenate(box_scores) if box_scores else np.zeros(0, np.float32)
        frame_index = np.asarray(frame_index, dtype=np.int64)
        keypoints, scores = self.pose(frames, frame_index, boxes)
        refined = [()] * len(boxes)
        if self.hand is not None:  # every hand of the chunk's people in one batched call
            result = refine_hands(self.hand, frames, frame_index, keypoints, scores)
            keypoints, scores, refined = result.keypoints, result.scores, result.refined
        out = [FramePose(f.shape[1], f.shape[0]) for f in frames]
        for k in range(len(boxes)):
            out[frame_index[k]].people.append(Person(keypoints[k], scores[k], boxes[k], box_scores[k],
                                                     refined_hands=refined[k]))
        return out


def _det_size(det_size: Optional[int], path: Path) -> Optional[int]:
    """None (run the file as it is) when no size is asked or the file's own size is; else the size.
    The file's own size comes from the registry; YOLOX files it does not know are taken as 640."""
    if det_size in (None, 0):
        return None
    size = check_det_size(det_size)
    from . import hub

    try:
        own = hub.get_spec(path.name).input_hw[0]
    except Exception:  # noqa: BLE001 - a custom file: the published YOLOX contract
        own = 640
    return None if size == own else size


def _thresholds(candidate: float, nms: float, keep: float, max_detections: int) -> DetectionThresholds:
    return DetectionThresholds(candidate, nms, keep, max_detections=int(max_detections))


def _given(boxes) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return b, np.ones(len(b), np.float32)


def _choose_tracks_on_boxes(frames, detections, state: VideoState, ranking: dict):
    """Track the people on their boxes alone and keep only the tracks the selection chooses
    (ranked on clip-wide box statistics, as :func:`dwpose_core.selection.tracks.select_tracks` does), so
    that the pose stage runs on the chosen people only."""
    from . import temporal
    from .selection.tracks import select_tracks

    if state.box_tracker is None:
        state.box_tracker = temporal.TrackerState()
    zeros_kp, zeros_sc = np.zeros((133, 2), np.float32), np.zeros(133, np.float32)
    box_frames = [FramePose(f.shape[1], f.shape[0],
                            [Person(zeros_kp, zeros_sc, b[k], float(s[k])) for k in range(len(b))])
                  for f, (b, s) in zip(frames, detections)]
    temporal.track(box_frames, state.box_tracker)
    chosen = select_tracks(box_frames, ranking["mode"], top_k=ranking["top_k"],
                                    max_people=ranking["max_people"], state=state.box_tracker)
    return [(np.array([p.box for p in frame.people], np.float32).reshape(-1, 4),
             np.array([p.box_score for p in frame.people], np.float32)) for frame in chosen]


def _boxes_from_previous(previous: FramePose, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from .temporal import boxes_from_keypoints

    h, w = frame.shape[:2]
    boxes = [boxes_from_keypoints(p, w, h) for p in previous.people]
    scores = [p.box_score for p in previous.people]
    return np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32)


def _apply_temporal(results: list[FramePose], state: VideoState, track: bool, selection: str, top_k: int,
                    max_people: Optional[int], smoothing: float) -> list[FramePose]:
    from . import temporal
    from .selection.tracks import select_tracks

    if state.tracker is None:
        state.tracker = temporal.TrackerState()
    temporal.track(results, state.tracker)
    if track and (selection != "all" or max_people is not None):
        results = select_tracks(results, selection, top_k=top_k, max_people=max_people,
                                         state=state.tracker)
    if smoothing > 0:
        if state.smoother is None:
            state.smoother = temporal.SmootherState()
        results = temporal.smooth(results, strength=smoothing, state=state.smoother)
    return results
