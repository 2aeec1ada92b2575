"""Reading POSE_KEYPOINT / OpenPose JSON into FramePose: the reader half of :mod:`dwpose_core.formats.pose_json`.

Import :func:`from_pose_keypoint` from ``dwpose_core.formats.pose_json`` (its public home); the field
layout and the rules are documented there.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .. import skeleton as sk
from .json_text import FormatError, describe as _describe, float_array as _float_array, loads as _loads_text
from .json_text import whole_number as _whole
from ..types import FramePose, Person, check_hand_sides, check_parts

__all__ = ["from_pose_keypoint", "frame_list", "MAX_PEOPLE_PER_FRAME"]

# More people than this in one frame is refused (the detector keeps at most 100 by default).
MAX_PEOPLE_PER_FRAME = 10_000

_POSE_KEY = "pose_keypoints_2d"
_FOOT_KEY = "foot_keypoints_2d"
_FACE_KEY = "face_keypoints_2d"
_LEFT_KEY = "hand_left_keypoints_2d"
_RIGHT_KEY = "hand_right_keypoints_2d"
_WHOLEBODY_KEY = "wholebody_keypoints_2d"
_BOX_KEY = "box_2d"
_PARTS_KEY = "parts"
_TRACK_KEY = "track_id"
_REFINED_KEY = "refined_hands"  # hands refined by the hand model (stages/hands.py), e.g. ["left"]
_ARRAY_KEYS = (_POSE_KEY, _FOOT_KEY, _FACE_KEY, _LEFT_KEY, _RIGHT_KEY)
# The part each OpenPose array belongs to (an explicit null there means "disabled" in old files).
_PART_OF_KEY = {_POSE_KEY: "body", _FOOT_KEY: "feet", _FACE_KEY: "face", _LEFT_KEY: "hands", _RIGHT_KEY: "hands"}

# A point written in an OpenPose array that lies farther than this (canvas px) from the
# lossless field's point means the arrays were edited after writing (pose editors).
_EDIT_TOLERANCE = 0.5

_FEET = np.arange(sk.FEET.start, sk.FEET.stop)
_FACE = np.arange(sk.FACE.start, sk.FACE.stop)
_LEFT = np.arange(sk.LEFT_HAND.start, sk.LEFT_HAND.stop)
_RIGHT = np.arange(sk.RIGHT_HAND.start, sk.RIGHT_HAND.stop)


def from_pose_keypoint(data: PoseKeypointInput, *, canvas_size: Optional[tuple[int, int]] = None
                       ) -> list[FramePose]:
    """POSE_KEYPOINT / OpenPose JSON -> list of FramePose (one per frame).

    ``data``: a list of frame dicts, one frame dict, or JSON text (str or bytes) of either.
    Uses ``wholebody_keypoints_2d`` / ``box_2d`` / ``track_id`` when present (exact points and
    real scores); a part whose OpenPose array was edited afterwards (a point moved or added)
    or set to null is taken from the array instead. Without them, the arrays are mapped back
    to COCO-WholeBody: ``pose_keypoints_2d`` as OpenPose-18 (neck dropped) or BODY_25 (75
    numbers; feet kept), ``foot_keypoints_2d`` (6 points), face as 70 or 68 points (pupils
    ignored), hands as 21, by their names; score = c. ``parts`` (a list of part names) becomes
    ``Person.parts``; without it, a part whose arrays are explicitly null is disabled.
    Coordinates are treated as normalised (and scaled by the canvas) when every point with
    c > 0 in a frame's arrays lies within [0, 1], as the common decoders do.
    ``canvas_size=(W, H)`` is used for frames without ``canvas_width``/``canvas_height`` (plain
    OpenPose output has none); otherwise such a frame is a :class:`FormatError`.
    """
    frames = frame_list(data)
    return [_read_frame(frame, i, canvas_size) for i, frame in enumerate(frames)]


def frame_list(data: Any) -> list:
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FormatError(f"POSE_KEYPOINT bytes are not UTF-8 text: {exc}") from None
    if isinstance(data, str):
        data = _loads_text(data, "POSE_KEYPOINT")
    if isinstance(data, dict):
        return [data]
    if isinstance(data, (list, tuple)):
        return list(data)
    raise FormatError(f"POSE_KEYPOINT must be a list of frame dicts, one frame dict or JSON text; "
                      f"got {type(data).__name__}")


def _canvas(frame: dict, where: str, fallback: Optional[tuple[int, int]]) -> tuple[int, int]:
    size = []
    for axis, key in enumerate(("canvas_width", "canvas_height")):
        value = frame.get(key)
        if value is None:
            if fallback is None:
                raise FormatError(f"{where}: {key} is missing; POSE_KEYPOINT needs the canvas size, and for "
                                  f"plain OpenPose JSON pass canvas_size=(width, height) of its image")
            value = fallback[axis]
            key = f"canvas_size[{axis}]"
        number = _whole(value, f"{where}: {key}", "a positive whole number of pixels")
        if number <= 0:
            raise FormatError(f"{where}: {key} is {value!r}; expected a positive whole number of pixels")
        size.append(number)
    return size[0], size[1]


def _numbers(person: dict, key: str, path: str, expected: dict[int, str]) -> Optional[np.ndarray]:
    """A person's flat ``[x, y, c, ...]`` field as an (n, 3) array (box: (1, 5)); None when null/absent/empty."""
    value = person.get(key)
    if isinstance(value, np.ndarray):
        value = value.ravel().tolist()
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return None
    if not isinstance(value, (list, tuple)):
        raise FormatError(f"{path}.{key} is a {type(value).__name__}; expected a flat list of numbers "
                          f"[x, y, c, ...]")
    if len(value) not in expected:
        raise FormatError(f"{path}.{key} has {len(value)} numbers; expected " + " or ".join(expected.values()))
    return _float_array(value, f"{path}.{key}").reshape(-1, 5 if key == _BOX_KEY else 3)


_EXPECTED = {
    _POSE_KEY: {54: "54 (OpenPose-18: 18 points x 3)", 75: "75 (BODY_25: 25 points x 3)"},
    _FOOT_KEY: {18: "18 (6 points x 3)"},
    _FACE_KEY: {210: "210 (70 points x 3)", 204: "204 (68 points x 3)"},
    _LEFT_KEY: {63: "63 (21 points x 3)"},
    _RIGHT_KEY: {63: "63 (21 points x 3)"},
    _WHOLEBODY_KEY: {399: "399 (133 points x 3)"},
    _BOX_KEY: {5: "5 ([x1, y1, x2, y2, score])"},
}

# COCO-WholeBody indices an array's part covers (cleared when the array replaces the lossless field).
_PART_OF = {
    _POSE_KEY: np.arange(sk.BODY.start, sk.BODY.stop),
    _FOOT_KEY: _FEET,
    _FACE_KEY: _FACE,
    _LEFT_KEY: _LEFT,
    _RIGHT_KEY: _RIGHT,
}


def _pairs(pairs) -> tuple[np.ndarray, np.ndarray]:
    rows, coco = zip(*pairs)
    return np.array(rows), np.array(coco)


# (array rows, COCO-WholeBody indices) an array carries, by (key, number of points).
_ROWS = {
    (_POSE_KEY, 25): _pairs(sorted(sk.COCO_FROM_BODY25.items())),
    (_POSE_KEY, 18): _pairs([(i, c) for i, c in enumerate(sk.OPENPOSE_FROM_COCO) if c is not None]),
    (_FOOT_KEY, 6): _pairs(enumerate(sk.FEET)),
    (_FACE_KEY, 70): _pairs(enumerate(sk.FACE)),  # rows 68/69 (pupils) are the body's eyes: ignored
    (_FACE_KEY, 68): _pairs(enumerate(sk.FACE)),
    (_LEFT_KEY, 21): _pairs(enumerate(sk.LEFT_HAND)),
    (_RIGHT_KEY, 21): _pairs(enumerate(sk.RIGHT_HAND)),
}


def _read_frame(frame: Any, i: int, canvas_size: Optional[tuple[int, int]]) -> FramePose:
    where = f"frame {i}"
    if not isinstance(frame, dict):
        raise FormatError(f"{where} is a {type(frame).__name__}; expected a dict with 'people', "
                          f"'canvas_width' and 'canvas_height'")
    width, height = _canvas(frame, where, canvas_size)
    people = frame.get("people")
    if people is None:
        raise FormatError(f"{where}: people is missing; expected a list of person dicts")
    if not isinstance(people, (list, tuple)):
        raise FormatError(f"{where}: people is a {type(people).__name__}; expected a list of person dicts")
    if len(people) > MAX_PEOPLE_PER_FRAME:
        raise FormatError(f"{where}: people has {len(people)} entries; at most {MAX_PEOPLE_PER_FRAME} people "
                          f"per frame are read")

    parsed = []
    for j, person in enumerate(people):
        path = f"{where}: people[{j}]"
        if not isinstance(person, dict):
            raise FormatError(f"{path} is a {type(person).__name__}; expected a dict")
        fields = {key: _numbers(person, key, path, expected) for key, expected in _EXPECTED.items()}
        parsed.append((path, person, fields))

    # Normalised coordinates, decided per frame over every point with c > 0 in the OpenPose arrays.
    coords = [f[key][f[key][:, 2] > 0, :2] for _, _, f in parsed for key in _ARRAY_KEYS if f[key] is not None]
    coords = np.concatenate(coords) if coords else np.zeros((0, 2))
    scale = np.array([width, height], dtype=np.float64) if (
        len(coords) and bool(((coords >= 0) & (coords <= 1)).all())) else np.ones(2)

    result = [_read_person(path, person, fields, scale) for path, person, fields in parsed]
    return FramePose(width, height, result)


def _parts(person: dict, path: str) -> tuple[str, ...]:
    value = person.get(_PARTS_KEY)
    if value is None:  # older files and other tools: an explicitly null array disables its part
        off = {part for key, part in _PART_OF_KEY.items() if key in person and person[key] is None}
        if "hands" in off and not all(k in person and person[k] is None for k in (_LEFT_KEY, _RIGHT_KEY)):
            off.discard("hands")
        return tuple(p for p in sk.PART_NAMES if p not in off)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise FormatError(f"{path}.{_PARTS_KEY} is {_describe(value)}; expected a list of part names "
                          f"({', '.join(sk.PART_NAMES)})")
    try:
        return check_parts(value, f"{path}.{_PARTS_KEY}")
    except ValueError as exc:
        raise FormatError(str(exc)) from None


def _refined(person: dict, path: str) -> tuple[str, ...]:
    value = person.get(_REFINED_KEY)
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise FormatError(f"{path}.{_REFINED_KEY} is {_describe(value)}; expected a list of hand sides "
                          "(left, right)")
    try:
        return check_hand_sides(value, f"{path}.{_REFINED_KEY}")
    except ValueError as exc:
        raise FormatError(str(exc)) from None


def _read_person(path: str, person: dict, fields: dict, scale: np.ndarray) -> Person:
    wholebody = fields[_WHOLEBODY_KEY]
    if wholebody is not None:
        kp = wholebody[:, :2].copy()
        sc = wholebody[:, 2].copy()
        for key in _ARRAY_KEYS:
            array = fields[key]
            if array is None and key == _FOOT_KEY:
                continue  # files written before the foot array existed keep their feet in the lossless field
            if array is None or _edited(array, _ROWS[key, len(array)], kp, scale):
                # A part set to null is absent everywhere; an edited one comes from its array.
                kp[_PART_OF[key]] = 0.0
                sc[_PART_OF[key]] = 0.0
                if array is not None:
                    _fill_from_array(kp, sc, array, _ROWS[key, len(array)], scale)
    else:
        kp = np.zeros((sk.NUM_KEYPOINTS, 2), dtype=np.float64)
        sc = np.zeros(sk.NUM_KEYPOINTS, dtype=np.float64)
        for key in _ARRAY_KEYS:  # the foot array comes after the body: it wins over BODY_25's feet
            if fields[key] is not None:
                _fill_from_array(kp, sc, fields[key], _ROWS[key, len(fields[key])], scale)

    parts = _parts(person, path)
    for name in sk.PART_NAMES:
        if name not in parts:
            r = sk.PART_RANGES[name]
            kp[r.start:r.stop] = 0.0
            sc[r.start:r.stop] = 0.0

    box_field = fields[_BOX_KEY]
    if box_field is not None:
        box, box_score = box_field[0, :4], float(box_field[0, 4])
    else:
        box, box_score = _box_from_points(kp, sc), 1.0
    track = person.get(_TRACK_KEY)
    track = None if track is None else _whole(track, f"{path}.{_TRACK_KEY}", "a whole number or null")
    return Person(kp, sc, box, box_score, track, parts, _refined(person, path))


def _fill_from_array(kp: np.ndarray, sc: np.ndarray, array: np.ndarray, rows, scale: np.ndarray) -> None:
    row, coco = rows
    values = array[row]
    use = values[:, 2] > 0
    kp[coco[use]] = values[use, :2] * scale
    sc[coco[use]] = values[use, 2]


def _edited(array: np.ndarray, rows, kp: np.ndarray, scale: np.ndarray) -> bool:
    """True when an array point with c > 0 lies away from the lossless field's point (moved or added).

    The lossless field keeps every point's real position, even below the threshold, so any
    point an editor moved or switched on shows up as a position difference.
    """
    row, coco = rows
    values = array[row]
    use = values[:, 2] > 0
    return bool((np.abs(values[use, :2] * scale - kp[coco[use]]) > _EDIT_TOLERANCE).any())


def _box_from_points(kp: np.ndarray, sc: np.ndarray) -> np.ndarray:
    present = kp[sc > 0]
    if not len(present):
        return np.zeros(4)
    return np.concatenate([present.min(axis=0), present.max(axis=0)])
