"""The one entry point: frames in, people out.

>>> est = WholeBodyEstimator(detector="yolox_l.onnx", pose="dw-ll_ucoco_384.onnx")
>>> poses = est(frames)            # list of FramePose, one per frame
>>> est.info                       # what runs each model, e.g. onnxruntime on CPUExecutionProvider

``frames``: a list of H x W x 3 uint8 RGB arrays or an (N, H, W, 3) array (other
dtypes and channel counts follow :mod:`dwpose_core.images`). All crops of a
chunk of frames go through the pose model together. The ``progress`` callback
runs after every chunk with (frames done, total) and may raise to interrupt.
The pipeline composes stages; the maths lives in detection, pose, selection
and temporal.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np

from .backends import load_model, release_model
from .detection import DetectionThresholds, PersonDetector
from .images import to_rgb_uint8
from .pose import WholeBodyPoseModel
from .selection import check_mode, select_indices
from .types import FramePose, Person

log = logging.getLogger("dwpose")

DEFAULT_DETECTOR = "yolox_l.onnx"
DEFAULT_POSE = "dw-ll_ucoco_384.onnx"
ModelRef = Union[str, Path]


@dataclass
class VideoState:
    """Carried from one batch to the next batch of the same clip (tracking, smoothing, det-every-N)."""

    tracker: Any = None
    smoother: Any = None
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
    if isinstance(frames, np.ndarray):
        if frames.ndim == 4:
            frames = list(frames)
        elif frames.ndim in (2, 3):
            frames = [frames]
        else:
            raise ValueError(f"Expected frames as (N, H, W, C) or one image; got an array of shape {frames.shape}.")
    return [to_rgb_uint8(f) for f in frames]


class WholeBodyEstimator:
    """YOLOX person detection + DWPose whole-body pose, models loaded once and reused."""

    def __init__(self, detector: Optional[ModelRef] = DEFAULT_DETECTOR, pose: ModelRef = DEFAULT_POSE, *,
                 backend: str = "auto", device: Optional[str] = None, precision: str = "fp32",
                 providers="auto", download: bool = True):
        load = dict(backend=backend, device=device, precision=precision, providers=providers)
        self.detector: Optional[PersonDetector] = None
        if detector not in (None, "", "none", "None"):
            det_path, order = resolve_model(detector, "detector", download)
            self.detector = PersonDetector(load_model(det_path, **load), channel_order=order or "bgr")
        try:
            pose_path, _ = resolve_model(pose, "pose", download)
            self.pose = WholeBodyPoseModel(load_model(pose_path, **load))
        except BaseException:
            if self.detector is not None:  # do not keep a half-built estimator's detector (GPU memory)
                release_model(self.detector.model)
            raise

    @property
    def info(self) -> dict:
        return {"detector": self.detector.model.info if self.detector else None, "pose": self.pose.model.info}

    def release(self) -> None:
        """Free both models (GPU memory included); the estimator is unusable afterwards."""
        if self.detector is not None:
            release_model(self.detector.model)
        release_model(self.pose.model)

    def __call__(self, frames, *, det_threshold: float = 0.3, nms_threshold: float = 0.45,
                 candidate_threshold: float = 0.1, max_people: Optional[int] = None, selection: str = "all",
                 top_k: int = 1, chunk_size: int = 16,
                 progress: Optional[Callable[[int, int], None]] = None,
                 track: bool = False, det_every: int = 1, smoothing: float = 0.0,
                 video_state: Optional[VideoState] = None) -> list[FramePose]:
        check_mode(selection)
        if det_every < 1:
            raise ValueError(f"det_every must be >= 1, got {det_every}.")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
        frames = normalise_frames(frames)
        thresholds = DetectionThresholds(candidate_threshold, nms_threshold, det_threshold)
        state = video_state if video_state is not None else VideoState()
        # With tracking, selection is decided per track over the clip, not per frame.
        per_frame_selection = "all" if track else selection
        select = dict(mode=per_frame_selection, top_k=top_k, max_people=None if track else max_people)

        results: list[FramePose] = []
        for start in range(0, len(frames), chunk_size):
            chunk = frames[start:start + chunk_size]
            if det_every == 1 or self.detector is None:
                results.extend(self._estimate_chunk(chunk, thresholds, select))
            else:
                for frame in chunk:
                    due = state.frames_seen % det_every == 0 or state.last_frame is None \
                        or not state.last_frame.people
                    boxes = None if due else _boxes_from_previous(state.last_frame, frame)
                    pose = self._estimate_chunk([frame], thresholds, select, boxes)[0]
                    state.last_frame = pose
                    state.frames_seen += 1
                    results.append(pose)
            if progress is not None:
                progress(min(start + chunk_size, len(frames)), len(frames))
        if det_every == 1:
            state.frames_seen += len(frames)
            state.last_frame = results[-1] if results else state.last_frame
        if track or smoothing > 0:
            results = _apply_temporal(results, state, track, selection, top_k, max_people, smoothing)
        return results

    def _estimate_chunk(self, frames: list[np.ndarray], thresholds: DetectionThresholds, select: dict,
                        given_boxes: Optional[tuple[np.ndarray, np.ndarray]] = None) -> list[FramePose]:
        if given_boxes is not None:
            detections = [given_boxes]
        elif self.detector is not None:
            detections = self.detector(frames, thresholds)
        else:
            detections = [(np.array([[0, 0, f.shape[1], f.shape[0]]], np.float32), np.ones(1, np.float32))
                          for f in frames]
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
        out = [FramePose(f.shape[1], f.shape[0]) for f in frames]
        for k in range(len(boxes)):
            out[frame_index[k]].people.append(Person(keypoints[k], scores[k], boxes[k], box_scores[k]))
        return out


def _boxes_from_previous(previous: FramePose, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from .temporal import boxes_from_keypoints

    h, w = frame.shape[:2]
    boxes = [boxes_from_keypoints(p, w, h) for p in previous.people]
    scores = [p.box_score for p in previous.people]
    return np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32)


def _apply_temporal(results: list[FramePose], state: VideoState, track: bool, selection: str, top_k: int,
                    max_people: Optional[int], smoothing: float) -> list[FramePose]:
    from . import temporal

    if state.tracker is None:
        state.tracker = temporal.TrackerState()
    temporal.track(results, state.tracker)
    if track and (selection != "all" or max_people is not None):
        results = temporal.select_tracks(results, selection, top_k=top_k, max_people=max_people,
                                         state=state.tracker)
    if smoothing > 0:
        if state.smoother is None:
            state.smoother = temporal.SmootherState()
        results = temporal.smooth(results, strength=smoothing, state=state.smoother)
    return results
