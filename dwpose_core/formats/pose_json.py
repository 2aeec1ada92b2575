"""POSE_KEYPOINT / OpenPose JSON: write what downstream decoders read, read it back without loss.

POSE_KEYPOINT is a list with one dict per frame::

    {"people": [person, ...], "canvas_width": W, "canvas_height": H}

where W x H is the original frame (the coordinate space of every point). Each person has
these flat ``[x, y, c, ...]`` arrays in absolute canvas pixels, always written as lists:

- ``pose_keypoints_2d``: 18 points, OpenPose-18 order (neck = shoulder midpoint, present
  only when both shoulders are);
- ``foot_keypoints_2d``: 6 points, COCO-WholeBody 17-22 (left big toe, left small toe, left
  heel, right big toe, right small toe, right heel), ComfyUI core's field;
- ``face_keypoints_2d``: 70 points, the 68 landmarks then the pupils (right eye, left eye,
  from the body's eyes); the pupils are written only when at least one landmark is present;
- ``hand_left_keypoints_2d`` / ``hand_right_keypoints_2d``: 21 points each.

A present point (score >= threshold) has c = 1.0 and a missing one is ``0, 0, 0``, because
the common decoders (comfyui_controlnet_aux, sd-webui-controlnet) drop any point with
c < 1. A missing or disabled part is all ``0, 0, 0``, never ``null`` (ComfyUI core's
``SDPoseDrawKeypoints`` reshapes every array and fails on ``null``). Our extra fields:

- ``wholebody_keypoints_2d``: all 133 COCO-WholeBody points ``[x, y, score]`` with the real
  scores, feet included (a disabled part's points are ``0, 0, 0``);
- ``box_2d``: ``[x1, y1, x2, y2, score]`` of the detection;
- ``parts``: the enabled part names, e.g. ``["body", "hands", "face", "feet"]``;
- ``track_id``: an int, only once tracking has run;
- ``refined_hands``: the hands whose points came from the hand-refinement pass
  (``--refine-hands``), e.g. ``["left"]``; only when at least one was refined.

Reading accepts ``null`` and missing arrays, plain OpenPose (BODY_25 too), normalised
coordinates, and ComfyUI core's ``SDPoseKeypointExtractor`` output (real scores c in (0, 1]
in every array, feet in ``foot_keypoints_2d``: the scores are kept, a point is present when
c >= the threshold). Limits (hostile files): at most :data:`MAX_PEOPLE_PER_FRAME` people per
frame; every number must be finite and fit a float; a :class:`FormatError` names the field.

Public API: :func:`to_pose_keypoint`, :func:`from_pose_keypoint`, :func:`save_json`,
:func:`load_json`, :class:`FormatError`, :data:`MAX_PEOPLE_PER_FRAME`, and
:func:`openpose18` (re-exported from :mod:`dwpose_core.skeleton`).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from .. import skeleton as sk
from .json_text import FormatError
from .pose_reader import MAX_PEOPLE_PER_FRAME, frame_list as _frame_list, from_pose_keypoint
from ..skeleton import openpose18, present_mask
from ..types import FramePose, Person, enabled_parts

__all__ = [
    "FormatError", "to_pose_keypoint", "from_pose_keypoint", "save_json", "load_json", "openpose18",
    "COCO_FROM_BODY25", "MAX_PEOPLE_PER_FRAME",
]

COCO_FROM_BODY25 = sk.COCO_FROM_BODY25

# The field names are the reader's (one place): pose_reader.
from .pose_reader import (  # noqa: E402
    _BOX_KEY,
    _FACE_KEY,
    _FOOT_KEY,
    _LEFT_KEY,
    _PARTS_KEY,
    _POSE_KEY,
    _REFINED_KEY,
    _RIGHT_KEY,
    _TRACK_KEY,
    _WHOLEBODY_KEY,
)

PoseKeypointInput = Union[str, bytes, bytearray, dict, Sequence[dict]]


# ---------------------------------------------------------------------------- writing

_FEET = np.arange(sk.FEET.start, sk.FEET.stop)
_FACE = np.arange(sk.FACE.start, sk.FACE.stop)
_LEFT = np.arange(sk.LEFT_HAND.start, sk.LEFT_HAND.stop)
_RIGHT = np.arange(sk.RIGHT_HAND.start, sk.RIGHT_HAND.stop)
_PUPILS = np.array(sk.FACE_PUPILS_FROM_COCO)


def to_pose_keypoint(frames: Union[FramePose, Sequence[FramePose]], *, body: bool = True, hands: bool = True,
                     face: bool = True, feet: bool = True, threshold: float = sk.SCORE_THRESHOLD) -> list[dict]:
    """FramePose list -> POSE_KEYPOINT (list of plain dicts, ``json.dumps``-safe).

    ``body``/``hands``/``face``/``feet`` switch parts off on top of the frame's and each
    person's own ``parts``: a disabled part's arrays are all ``0, 0, 0`` (never null), its
    points in ``wholebody_keypoints_2d`` too, and it is left out of the person's ``parts``.
    A point is present (c = 1.0) when its score >= ``threshold``.
    """
    if isinstance(frames, FramePose):
        frames = [frames]
    toggles = {"body": body, "hands": hands, "face": face, "feet": feet}
    out = []
    for frame in frames:
        if not isinstance(frame, FramePose):
            raise TypeError(f"to_pose_keypoint expects FramePose objects; got {type(frame).__name__}")
        out.append({
            "people": [_person_dict(frame, p, toggles, threshold) for p in frame.people],
            "canvas_width": int(frame.width),
            "canvas_height": int(frame.height),
        })
    return out


def _flat(points: np.ndarray, present: np.ndarray) -> list[float]:
    """(n, 2) points -> flat [x, y, 1.0 | 0, 0, 0 ...]."""
    out = np.zeros((len(points), 3), dtype=np.float64)
    out[present, :2] = points[present]
    out[present, 2] = 1.0
    return out.ravel().tolist()


def _finite_or_zero(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _person_dict(frame: FramePose, person: Person, toggles: dict, threshold: float) -> dict:
    parts = enabled_parts(frame, person, **toggles)
    kp = person.keypoints.astype(np.float64)
    sc = person.scores.astype(np.float64)
    ok = present_mask(kp, sc, threshold)
    on = {name: name in parts for name in sk.PART_NAMES}

    d: dict[str, Any] = {}
    if on["body"]:
        points, present = openpose18(kp, sc, threshold)
        d[_POSE_KEY] = _flat(points, present)
    else:
        d[_POSE_KEY] = [0.0] * (3 * len(sk.OPENPOSE_FROM_COCO))
    d[_FOOT_KEY] = _flat(kp[_FEET], ok[_FEET] & on["feet"])
    landmarks = ok[_FACE] & on["face"]
    # Pupils (the body's eyes) only with a face: a face with no landmark is absent as a whole.
    pupils = ok[_PUPILS] & bool(landmarks.any())
    d[_FACE_KEY] = _flat(kp[np.concatenate([_FACE, _PUPILS])], np.concatenate([landmarks, pupils]))
    d[_LEFT_KEY] = _flat(kp[_LEFT], ok[_LEFT] & on["hands"])
    d[_RIGHT_KEY] = _flat(kp[_RIGHT], ok[_RIGHT] & on["hands"])

    keep = np.zeros(sk.NUM_KEYPOINTS, dtype=bool)
    for name in parts:
        keep[sk.PART_RANGES[name].start:sk.PART_RANGES[name].stop] = True
    keep &= np.isfinite(kp).all(axis=1) & np.isfinite(sc)
    wholebody = np.zeros((sk.NUM_KEYPOINTS, 3), dtype=np.float64)
    wholebody[keep, :2] = kp[keep]
    wholebody[keep, 2] = sc[keep]
    d[_WHOLEBODY_KEY] = wholebody.ravel().tolist()
    d[_BOX_KEY] = [_finite_or_zero(v) for v in person.box.tolist()] + [_finite_or_zero(person.box_score)]
    d[_PARTS_KEY] = list(parts)
    if person.track_id is not None:
        d[_TRACK_KEY] = int(person.track_id)
    if person.refined_hands and on["hands"]:
        d[_REFINED_KEY] = list(person.refined_hands)
    return d


# ---------------------------------------------------------------------------- files

def save_json(path: Union[str, os.PathLike], data: Union[PoseKeypointInput, Sequence[FramePose]]) -> Path:
    """Write POSE_KEYPOINT (or FramePose objects, converted with the defaults) as UTF-8 JSON.

    The file is written to a temporary name and renamed, so a reader never sees half a file.
    """
    from ..files.outputs import write_bytes

    if isinstance(data, FramePose) or (isinstance(data, (list, tuple)) and data
                                       and all(isinstance(f, FramePose) for f in data)):
        data = to_pose_keypoint(data)
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return write_bytes(path, text.encode("utf-8"))


def load_json(path: Union[str, os.PathLike], *, canvas_size: Optional[tuple[int, int]] = None) -> list[dict]:
    """Read a POSE_KEYPOINT / OpenPose JSON file: the list of frame dicts (one dict is wrapped).

    The content is validated as :func:`from_pose_keypoint` reads it (a ``FormatError`` names
    the file and the field). ``canvas_size=(W, H)`` fills in frames without a canvas size
    (plain OpenPose output). Pass the result to :func:`from_pose_keypoint` or to rendering.
    """
    path = Path(path)
    try:
        frames = _frame_list(path.read_bytes())
        from_pose_keypoint(frames, canvas_size=canvas_size)
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None
    if canvas_size is not None:
        frames = [_with_canvas(f, canvas_size) for f in frames]
    return frames


def _with_canvas(frame: dict, canvas_size: tuple[int, int]) -> dict:
    frame = dict(frame)
    for key, value in (("canvas_width", canvas_size[0]), ("canvas_height", canvas_size[1])):
        if frame.get(key) is None:
            frame[key] = int(value)
    return frame
