"""The core's data model: a frame's people with 133 whole-body keypoints.

Coordinates are always pixels of the original frame (pixel centres at integer
coordinates); scores are the model's real scores (min of the two SimCC maxima).
The OpenPose-18 view exists only at the edges (formats, rendering).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .skeleton import NUM_KEYPOINTS


@dataclass
class Person:
    keypoints: np.ndarray  # (133, 2) float32, x/y in original-frame pixels
    scores: np.ndarray  # (133,) float32, real scores
    box: np.ndarray  # (4,) float32, x1, y1, x2, y2 in frame pixels
    box_score: float = 1.0
    track_id: Optional[int] = None

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32).reshape(NUM_KEYPOINTS, 2)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(NUM_KEYPOINTS)
        self.box = np.asarray(self.box, dtype=np.float32).reshape(4)
        self.box_score = float(self.box_score)

    @property
    def box_area(self) -> float:
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return float(max(w, 0.0) * max(h, 0.0))

    def copy(self) -> "Person":
        return Person(self.keypoints.copy(), self.scores.copy(), self.box.copy(), self.box_score, self.track_id)


@dataclass
class FramePose:
    width: int  # canvas = original frame size
    height: int
    people: list[Person] = field(default_factory=list)

    def copy(self) -> "FramePose":
        return FramePose(self.width, self.height, [p.copy() for p in self.people])
