"""Retargeting: a driving clip re-proportioned to a reference character.

Every frame keeps the driver's bone directions (so every joint angle and the
clip's motion are kept) and takes the reference person's bone lengths, limb by
limb, from the neck outwards::

    child_out = parent_out + ratio[bone] * (child_drive - parent_drive)

with ``ratio = reference length / driving length``. How the lengths are found,
and how this differs from the official pipelines (PROFILES.md):

* **Driving lengths over the whole clip.** Foreshortening only ever shortens a
  bone in 2D, so a bone's driving length is a robust high quantile
  (``quantile``, default the 90th percentile) of its length over the frames
  where both ends are present, not its length in frame 0. A clip whose first
  frame has a foreshortened forearm still gets the reference's forearm length
  in the other frames.
* **Left and right consistent.** A left/right pair (upper arms, forearms,
  neck->hips, thighs, shins, nose->eyes, eyes->ears, foot bones, palms) has one
  length on each side: the longer of the two, for the driver and for the
  reference alike (again: foreshortening only shortens). The two neck->shoulder
  bones are always one group (the neck stays the shoulders' midpoint).
* **Ratios clamped.** The global scale ``g`` is the median ratio of the main
  body bones (shoulders, arms, torso, legs); every ratio is clamped to
  ``[g / max_ratio_spread, g * max_ratio_spread]``, so one bad detection cannot
  make a limb absurd. A bone the reference does not show gets ``g``.
* **Missing points.** A point whose parent is missing in a frame hangs from its
  nearest present ancestor, scaled by the ratio of that chain. The body wrist
  falls back to the hand's root point, the nose to the face's nose tip, the
  neck to the one visible shoulder. A frame without any of those is moved by
  the clip's global similarity (scale ``g`` and the placement of the nearest
  frames). Scores are kept, so missing points stay missing.
* **Hands and face** follow their wrist and the nose, scaled uniformly by the
  reference's palm length (wrist -> middle-finger knuckle) and face size (mean
  of the outer-eye-corner span and the brow-to-chin length) over the driver's;
  without them, by the forearm and nose->eye ratios.
* **Placement.** The neck of the first frame goes onto the reference's neck;
  later frames move by ``g`` x the driver's motion. When the reference shows
  its whole body (both ankles present inside its canvas) and ``ground`` is on,
  each frame where the driver's ankles are present is shifted vertically so
  that its lowest foot point sits ``g`` x the driver's height above its ground
  line (the median over the clip of the lowest foot point) above the
  reference's ground line: a standing or squatting clip keeps its feet on the
  reference's ground line. The shift is interpolated over frames without feet.
* **Several people.** Each track gets its own reference person when the
  reference has enough people (paired left to right), else all use the largest
  one and keep their positions relative to the first track (``reference_people``).

The output is in the reference's canvas (DESIGN: "Retargeted and profile outputs").

The array maths lives in :mod:`dwpose_core.animate.retarget_math`; this module adapts FramePose clips
and tracks to it (and re-exports its public names).
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

import numpy as np

from .retarget_math import BONES, NECK, RetargetError, retarget_arrays
from ..skeleton import NUM_KEYPOINTS, SCORE_THRESHOLD
from ..types import FramePose, Person

__all__ = ["retarget", "retarget_arrays", "track_groups", "BONES", "NECK", "RetargetError"]


# ------------------------------------------------------------------------- FramePose level

ReferencePeople = Union[str, int, Mapping[int, int], None]


def track_groups(frames: list[FramePose]) -> dict:
    """track id -> list of (frame index, person index), in order of first appearance.

    People without consistent ids get them from :func:`dwpose_core.temporal.track` (in place);
    a clip with at most one person per frame and no ids is one track with id None.
    """
    ids = [[p.track_id for p in f.people] for f in frames]
    if any(i is None for row in ids for i in row) or any(len(set(r)) != len(r) for r in ids):
        if all(len(f.people) <= 1 for f in frames):
            return {None: [(t, 0) for t, f in enumerate(frames) if f.people]}
        from ..temporal import track

        track(frames)
    out: dict = {}
    for t, f in enumerate(frames):
        for i, p in enumerate(f.people):
            out.setdefault(p.track_id, []).append((t, i))
    return out


def _person_size(p: Person, threshold: float) -> float:
    """Area of the extent of the present keypoints (the box's area without any)."""
    ok = p.scores >= threshold
    if not ok.any():
        return p.box_area
    span = p.keypoints[ok].max(0) - p.keypoints[ok].min(0)
    return float(span[0] * span[1])


def _largest(people: Sequence[Person], threshold: float) -> int:
    return int(np.argmax([_person_size(p, threshold) for p in people]))


def retarget(frames: Sequence[FramePose], reference: Union[FramePose, Sequence[FramePose]], *,
             reference_people: ReferencePeople = "auto", quantile: float = 0.9, max_ratio_spread: float = 2.5,
             ground: bool = True, symmetric: bool = True, threshold: float = SCORE_THRESHOLD) -> list[FramePose]:
    """The driving ``frames`` re-proportioned to the person(s) of ``reference`` (its first frame).

    Returns new frames in the reference's canvas; scores, track ids and box scores are kept,
    boxes follow the people. ``reference_people``: ``"auto"`` (each track its own reference
    person, paired left to right, when the reference has enough people; else all the largest),
    ``"same"`` (every track -> the largest reference person), an int (every track -> that
    reference person), or a dict track_id -> reference person index. Other options: see
    :func:`retarget_arrays` and the module text.
    """
    if not isinstance(reference, FramePose):
        reference = list(reference)
        if not reference:
            raise RetargetError("the reference has no frames")
        reference = reference[0]
    if not reference.people:
        raise RetargetError("the reference has no person; give a reference picture or pose with a person in it")
    frames = [f.copy() for f in frames]
    out = [FramePose(reference.width, reference.height, parts=f.parts) for f in frames]
    if not frames:
        return out
    tracks = track_groups(frames)
    keys = list(tracks)
    n_t = len(frames)
    arrays = {}
    for key in keys:
        kp = np.zeros((n_t, NUM_KEYPOINTS, 2))
        sc = np.zeros((n_t, NUM_KEYPOINTS))
        for t, i in tracks[key]:
            kp[t], sc[t] = frames[t].people[i].keypoints, frames[t].people[i].scores
        arrays[key] = (kp, sc)
    assignment = _assign(keys, arrays, reference, reference_people, threshold)

    shared_anchor = {}
    for key in keys:  # tracks sharing a reference person keep their positions relative to the first
        ref_i = assignment[key]
        if ref_i not in shared_anchor:
            shared_anchor[ref_i] = _first_root(*arrays[key], threshold)
    results: list[tuple[int, int, Person]] = []
    for key in keys:
        ref = reference.people[assignment[key]]
        anchor = shared_anchor[assignment[key]] if list(assignment.values()).count(assignment[key]) > 1 else None
        new_kp, offsets, g = retarget_arrays(
            *arrays[key], ref.keypoints, ref.scores, ref_canvas=(reference.width, reference.height),
            anchor=anchor, quantile=quantile, max_ratio_spread=max_ratio_spread, ground=ground,
            symmetric=symmetric, threshold=threshold)
        for t, i in tracks[key]:
            src = frames[t].people[i]
            box = np.concatenate([g * src.box[:2] + offsets[t], g * src.box[2:] + offsets[t]])
            results.append((t, i, Person(new_kp[t], src.scores.copy(), box, src.box_score, src.track_id, src.parts)))
    for t, i, person in sorted(results, key=lambda r: (r[0], r[1])):
        out[t].people.append(person)
    return out


def _first_root(kp, sc, threshold) -> Optional[np.ndarray]:
    both = (sc[:, 5] >= threshold) & (sc[:, 6] >= threshold)
    if not both.any():
        return None
    t = int(np.argmax(both))
    return (kp[t, 5] + kp[t, 6]) / 2.0


def _assign(keys, arrays, reference: FramePose, mode: ReferencePeople, threshold: float) -> dict:
    n_ref = len(reference.people)
    largest = _largest(reference.people, threshold)
    if isinstance(mode, Mapping):
        out = {}
        for key in keys:
            i = int(mode.get(key, largest))
            if not -n_ref <= i < n_ref:
                raise RetargetError(f"reference person {i} does not exist (the reference has {n_ref})")
            out[key] = i % n_ref
        return out
    if isinstance(mode, (int, np.integer)) and not isinstance(mode, bool):
        if not -n_ref <= int(mode) < n_ref:
            raise RetargetError(f"reference person {mode} does not exist (the reference has {n_ref})")
        return {key: int(mode) % n_ref for key in keys}
    if mode not in ("auto", "same", None):
        raise ValueError(f"reference_people must be 'auto', 'same', an index or a dict; got {mode!r}")
    if mode == "same" or len(keys) < 2 or n_ref < len(keys):
        return {key: largest for key in keys}

    def x_of_track(key) -> float:
        kp, sc = arrays[key]
        ok = sc[..., :17] >= threshold
        return float(kp[..., :17, 0][ok].mean()) if ok.any() else 0.0

    def x_of_ref(i: int) -> float:
        p = reference.people[i]
        ok = p.scores[:17] >= threshold
        return float(p.keypoints[:17, 0][ok].mean()) if ok.any() else float(p.box[[0, 2]].mean())

    order = sorted(range(n_ref), key=lambda i: -_person_size(reference.people[i], threshold))[:len(keys)]
    refs = sorted(order, key=x_of_ref)
    tracks_lr = sorted(keys, key=x_of_track)
    return dict(zip(tracks_lr, refs))

