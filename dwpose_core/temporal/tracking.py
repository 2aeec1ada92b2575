"""Identity tracking: stable ``Person.track_id`` across the frames of a clip.

Each frame's people are matched to the live tracks by a similarity that mixes
box IoU with an OKS-like keypoint similarity, both measured against where the
track is *predicted* to be (constant velocity from its recent motion). The
prediction is what keeps two people apart when they cross: at the crossing
their boxes overlap, but each continues in its own direction. The matching is
a minimum-cost assignment; a pair below ``min_similarity`` is never matched,
an unmatched person starts a new track, and a track unseen for more than
``max_age`` frames ends. The state carries everything to the next batch of the
same clip, including per-track statistics for track-aware selection.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..skeleton import NUM_KEYPOINTS, SCORE_THRESHOLD
from ..types import FramePose, Person
from .assignment import linear_assignment

__all__ = ["TrackerState", "TrackStats", "track"]

# OKS falloff: a keypoint off by KAPPA x the box scale scores exp(-1/2). Tight
# enough that two similar people side by side still score clearly apart (the
# mean over many keypoints is far less noisy than a detection box).
OKS_KAPPA = 0.05
# Weight of a new velocity measurement in the running estimate.
VELOCITY_GAIN = 0.6


@dataclass
class TrackStats:
    """Clip-wide statistics of one track (all batches seen so far)."""

    frames: int = 0  # frames in which the track was observed
    area_sum: float = 0.0  # sum of box areas over those frames
    score_sum: float = 0.0  # sum of box scores over those frames
    first_frame: int = 0
    last_frame: int = 0


@dataclass
class _Track:
    track_id: int
    keypoints: np.ndarray  # (133, 2) last observation
    scores: np.ndarray  # (133,)
    box: np.ndarray  # (4,)
    last_frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float64))  # px / frame

    def predict(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        shift = self.velocity * float(frame - self.last_frame)
        return self.keypoints + shift, self.box + np.tile(shift, 2)


@dataclass
class TrackerState:
    """What :func:`track` carries from one batch of a clip to the next.

    Create an empty one (or pass ``None`` for a single batch); pass the
    returned state with the next batch so identities continue.
    """

    next_id: int = 0
    frame_index: int = 0  # frames processed so far (all batches)
    tracks: list[_Track] = field(default_factory=list)
    stats: dict[int, TrackStats] = field(default_factory=dict)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = max(box[2] - box[0], 0) * max(box[3] - box[1], 0)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _oks(pred_kp, pred_present, pred_box, people: Sequence[Person], present: np.ndarray, iou: np.ndarray):
    """OKS-like similarity of one predicted track to each person (falls back to IoU)."""
    area = max(pred_box[2] - pred_box[0], 1.0) * max(pred_box[3] - pred_box[1], 1.0)
    denom = 2.0 * area * OKS_KAPPA**2
    out = iou.copy()
    for i, person in enumerate(people):
        common = pred_present & present[i]
        if common.any():
            d2 = np.sum((person.keypoints[common] - pred_kp[common]) ** 2, axis=1)
            out[i] = float(np.mean(np.exp(-d2 / denom)))
    return out


def _velocity(tr: _Track, person: Person, present: np.ndarray, threshold: float, frame: int) -> np.ndarray:
    dt = max(frame - tr.last_frame, 1)
    common = present & (tr.scores >= threshold)
    if np.count_nonzero(common) >= 3:
        # The median displacement of shared points: robust to a few bad keypoints.
        disp = np.median(person.keypoints[common] - tr.keypoints[common], axis=0)
    else:
        disp = (person.box[:2] + person.box[2:]) / 2 - (tr.box[:2] + tr.box[2:]) / 2
    return (1 - VELOCITY_GAIN) * tr.velocity + VELOCITY_GAIN * disp.astype(np.float64) / dt


def track(
    frames: Sequence[FramePose],
    state: Optional[TrackerState] = None,
    *,
    iou_weight: float = 0.5,
    max_age: int = 30,
    min_similarity: float = 0.1,
    threshold: float = SCORE_THRESHOLD,
) -> TrackerState:
    """Assign ``track_id`` to every person of ``frames``, in place, and return the state.

    ``iou_weight`` in [0, 1] balances box IoU against keypoint similarity;
    ``max_age`` is how many frames a track may go unseen and still be resumed;
    ``min_similarity`` is the least similarity a match needs; ``threshold``
    is the score at which a keypoint counts as present. Pass the returned
    state with the next batch of the same clip to continue the identities.
    Track ids are integers from 0, never reused within a clip.
    """
    if not 0.0 <= iou_weight <= 1.0:
        raise ValueError(f"iou_weight must be within [0, 1], got {iou_weight}")
    if max_age < 0:
        raise ValueError(f"max_age must be >= 0 frames, got {max_age}")
    state = TrackerState() if state is None else state
    for frame in frames:
        f = state.frame_index
        state.tracks = [t for t in state.tracks if f - t.last_frame <= max_age + 1]
        people = frame.people
        present = np.array([p.scores >= threshold for p in people], dtype=bool).reshape(len(people), NUM_KEYPOINTS)
        rows, cols = np.zeros(0, np.int64), np.zeros(0, np.int64)
        similarity = np.zeros((len(state.tracks), len(people)))
        if state.tracks and people:
            boxes = np.stack([p.box for p in people]).astype(np.float64)
            for r, t in enumerate(state.tracks):
                kp, box = t.predict(f)
                iou = _iou(box, boxes)
                oks = _oks(kp, t.scores >= threshold, box, people, present, iou)
                similarity[r] = iou_weight * iou + (1.0 - iou_weight) * oks
            # Maximise the total similarity, then drop the pairs too dissimilar to be
            # the same person. (A large "forbidden" cost instead would favour more
            # matches over better ones.)
            rows, cols = linear_assignment(1.0 - similarity)
            keep = similarity[rows, cols] >= min_similarity
            rows, cols = rows[keep], cols[keep]
        matched = dict(zip(cols.tolist(), rows.tolist()))
        for i, person in enumerate(people):
            if i in matched:
                t = state.tracks[matched[i]]
                t.velocity = _velocity(t, person, present[i], threshold, f)
                t.keypoints = person.keypoints.astype(np.float64)
                t.scores = person.scores.copy()
                t.box = person.box.astype(np.float64)
                t.last_frame = f
            else:
                t = _Track(state.next_id, person.keypoints.astype(np.float64), person.scores.copy(),
                           person.box.astype(np.float64), f)
                state.next_id += 1
                state.tracks.append(t)
                state.stats[t.track_id] = TrackStats(first_frame=f)
            person.track_id = t.track_id
            st = state.stats[t.track_id]
            st.frames += 1
            st.area_sum += person.box_area
            st.score_sum += person.box_score
            st.last_frame = f
        state.frame_index += 1
    return state
