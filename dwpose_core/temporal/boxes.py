"""Person boxes from keypoints, for the frames between two detections.

Detecting every N-th frame: run the detector and the pose model on the key
frames, track them, then give every frame in between the boxes derived from
the tracked keypoints (:func:`boxes_between`) and run only the pose model.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..skeleton import SCORE_THRESHOLD
from ..types import FramePose, Person

__all__ = ["boxes_from_keypoints", "boxes_between"]


def boxes_from_keypoints(
    person: Person, width: int, height: int, margin: float = 0.15, threshold: float = SCORE_THRESHOLD
) -> np.ndarray:
    """A box (x1, y1, x2, y2) around the person's present keypoints, clipped to the frame.

    The extent of the points with score >= ``threshold`` is widened by
    ``margin`` x its width and height on every side: keypoints stop short of
    the head top and the outline, and the person moves between frames. With
    fewer than two present points the person's own box is returned (clipped).
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    present = person.scores >= threshold
    if np.count_nonzero(present) < 2:
        box = person.box.astype(np.float32).copy()
    else:
        pts = person.keypoints[present]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        # A floor on the extent keeps a few collinear points from giving a flat box.
        size = np.maximum(hi - lo, 0.1 * max(hi[0] - lo[0], hi[1] - lo[1], 1.0))
        centre = (lo + hi) / 2
        half = size / 2 + margin * size
        box = np.concatenate([centre - half, centre + half]).astype(np.float32)
    box[[0, 2]] = np.clip(box[[0, 2]], 0, width)
    box[[1, 3]] = np.clip(box[[1, 3]], 0, height)
    return box


def boxes_between(
    before: FramePose,
    after: Optional[FramePose],
    t: float,
    margin: float = 0.15,
    threshold: float = SCORE_THRESHOLD,
) -> list[tuple[np.ndarray, float, Optional[int]]]:
    """Person boxes for a frame between two detected (key) frames: ``(box, box_score, track_id)``.

    ``t`` in [0, 1] is the frame's position between ``before`` (0) and
    ``after`` (1). Each person of ``before`` gets its keypoint box; when the
    same track is in ``after`` too, the box is interpolated linearly towards
    that one, so a moving person stays inside it with zero lag (the whole
    clip is known). Needs track ids to pair people (run :func:`track` on the
    key frames); without them, or with ``after=None`` (end of the clip), the
    boxes of ``before`` are used as they are.
    """
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must be within [0, 1], got {t}")
    later = {}
    if after is not None:
        later = {p.track_id: p for p in after.people if p.track_id is not None}
    out = []
    for person in before.people:
        box = boxes_from_keypoints(person, before.width, before.height, margin, threshold)
        score = person.box_score
        match = later.get(person.track_id) if person.track_id is not None else None
        if match is not None:
            end = boxes_from_keypoints(match, before.width, before.height, margin, threshold)
            box = ((1.0 - t) * box + t * end).astype(np.float32)
            score = (1.0 - t) * score + t * match.box_score
        out.append((box, float(score), person.track_id))
    return out
