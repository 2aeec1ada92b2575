"""The core's data model: a frame's people with 133 whole-body keypoints.

Coordinates are always pixels of the original frame (pixel centres at integer
coordinates); scores are the model's real scores (min of the two SimCC maxima).
The OpenPose-18 view exists only at the edges (formats, rendering).

Which parts are enabled travels with the data: ``FramePose.parts`` (the frame's) and
``Person.parts`` (the person's, read from POSE_KEYPOINT's per-person ``parts`` field), each a
tuple of names from ``skeleton.PART_NAMES`` (default: all four). A part is enabled for a person
when it is in both (:func:`enabled_parts`); writing and drawing leave disabled parts out, and
their toggles can only switch more parts off.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import numpy as np

from .skeleton import NUM_KEYPOINTS, PART_NAMES, PART_RANGES, SCORE_THRESHOLD, present_mask

__all__ = ["Person", "FramePose", "check_parts", "check_hand_sides", "enabled_parts"]


def _check_names(values: Iterable[str], allowed: Sequence[str], what: str, where: str) -> tuple[str, ...]:
    """``values`` in the order of ``allowed``; a ValueError names an unknown one (or a lone string)."""
    if isinstance(values, str):
        raise ValueError(f"{where} must be a list of {what}s, not the string {values!r}")
    names = set()
    for name in values:
        if name not in allowed:
            raise ValueError(f"{where}: unknown {what} {name!r}; the {what}s are {', '.join(allowed)}")
        names.add(name)
    return tuple(n for n in allowed if n in names)


def check_parts(parts: Iterable[str], where: str = "parts") -> tuple[str, ...]:
    """Part names in the canonical order; a ValueError names an unknown one."""
    return _check_names(parts, PART_NAMES, "part", where)


HAND_SIDES = ("left", "right")


def check_hand_sides(sides: Iterable[str], where: str = "refined_hands") -> tuple[str, ...]:
    """Hand side names ("left", "right") in that order; a ValueError names an unknown one."""
    return _check_names(sides, HAND_SIDES, "hand side", where)


@dataclass
class Person:
    keypoints: np.ndarray  # (133, 2) float32, x/y in original-frame pixels
    scores: np.ndarray  # (133,) float32, real scores
    box: np.ndarray  # (4,) float32, x1, y1, x2, y2 in frame pixels
    box_score: float = 1.0
    track_id: Optional[int] = None
    parts: tuple[str, ...] = PART_NAMES  # enabled parts of this person
    # hands whose points came from the hand-refinement pass (stages/hands.py): "left" / "right"
    refined_hands: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32).reshape(NUM_KEYPOINTS, 2)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(NUM_KEYPOINTS)
        self.box = np.asarray(self.box, dtype=np.float32).reshape(4)
        self.box_score = float(self.box_score)
        self.parts = check_parts(self.parts, "Person.parts")
        self.refined_hands = check_hand_sides(self.refined_hands, "Person.refined_hands")

    @property
    def box_area(self) -> float:
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return float(max(w, 0.0) * max(h, 0.0))

    def present(self, threshold: float = SCORE_THRESHOLD) -> np.ndarray:
        """(133,) bool: the core's present rule (score >= threshold, finite), disabled parts False."""
        ok = present_mask(self.keypoints, self.scores, threshold)
        for name in PART_NAMES:
            if name not in self.parts:
                ok[PART_RANGES[name].start:PART_RANGES[name].stop] = False
        return ok

    def shows(self, part: str, threshold: float = SCORE_THRESHOLD) -> bool:
        """True when at least one point of ``part`` is present (and the part is enabled)."""
        r = PART_RANGES[part]
        return bool(self.present(threshold)[r.start:r.stop].any())

    def copy(self) -> "Person":
        return Person(self.keypoints.copy(), self.scores.copy(), self.box.copy(), self.box_score, self.track_id,
                      self.parts, self.refined_hands)


@dataclass
class FramePose:
    width: int  # canvas = original frame size
    height: int
    people: list[Person] = field(default_factory=list)
    parts: tuple[str, ...] = PART_NAMES  # enabled parts of the frame

    def __post_init__(self) -> None:
        self.parts = check_parts(self.parts, "FramePose.parts")

    def copy(self) -> "FramePose":
        return FramePose(self.width, self.height, [p.copy() for p in self.people], self.parts)


def enabled_parts(frame: FramePose, person: Person, **toggles: Optional[bool]) -> tuple[str, ...]:
    """Parts enabled for ``person`` of ``frame``: in both ``parts`` and not switched off.

    ``toggles``: ``body=False`` etc. switch a part off; ``True`` or ``None`` leave it as it is.
    """
    unknown = set(toggles) - set(PART_NAMES)
    if unknown:
        raise TypeError(f"unknown part toggle(s): {', '.join(sorted(unknown))}")
    return tuple(p for p in PART_NAMES
                 if p in frame.parts and p in person.parts and toggles.get(p, True) is not False)
