"""POSE_KEYPOINT / OpenPose JSON: write what downstream decoders read, read it back without loss.

POSE_KEYPOINT is a list with one dict per frame::

    {"people": [person, ...], "canvas_width": W, "canvas_height": H}

where W x H is the original frame (the coordinate space of every point). Each person has
the four OpenPose arrays, flat ``[x, y, c, ...]`` in absolute canvas pixels:

- ``pose_keypoints_2d``: 18 points, OpenPose-18 order (neck = shoulder midpoint, present
  only when both shoulders are);
- ``face_keypoints_2d``: 70 points, the 68 landmarks then the pupils (right eye, left eye,
  taken from the body's eyes);
- ``hand_left_keypoints_2d`` / ``hand_right_keypoints_2d``: 21 points each.

A present point (score >= threshold) has c = 1.0 and a missing one is ``0, 0, 0``, because
the common decoders (comfyui_controlnet_aux, sd-webui-controlnet) drop any point with
c < 1. A disabled part is ``null``. Nothing is lost, because each person also carries

- ``wholebody_keypoints_2d``: all 133 COCO-WholeBody points ``[x, y, score]`` with the real
  scores, feet included (a disabled part's points are ``0, 0, 0``);
- ``box_2d``: ``[x1, y1, x2, y2, score]`` of the detection;
- ``track_id``: an int, only once tracking has run.

Public API: :func:`to_pose_keypoint`, :func:`from_pose_keypoint`, :func:`save_json`,
:func:`load_json`, :class:`FormatError`, and :func:`openpose18` (the OpenPose-18 view of a
person, shared with rendering).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import skeleton as sk
from .types import FramePose, Person

__all__ = [
    "FormatError", "to_pose_keypoint", "from_pose_keypoint", "save_json", "load_json", "openpose18",
    "COCO_FROM_BODY25",
]


class FormatError(ValueError):
    """POSE_KEYPOINT / OpenPose JSON that cannot be read; the message names the field."""


COCO_FROM_BODY25 = sk.COCO_FROM_BODY25

_POSE_KEY = "pose_keypoints_2d"
_FACE_KEY = "face_keypoints_2d"
_LEFT_KEY = "hand_left_keypoints_2d"
_RIGHT_KEY = "hand_right_keypoints_2d"
_WHOLEBODY_KEY = "wholebody_keypoints_2d"
_BOX_KEY = "box_2d"
_TRACK_KEY = "track_id"

# A point written in an OpenPose array that lies farther than this (canvas px) from the
# lossless field's point means the arrays were edited after writing (pose editors).
_EDIT_TOLERANCE = 0.5

PoseKeypointInput = Union[str, bytes, bytearray, dict, Sequence[dict]]


# ---------------------------------------------------------------------------- OpenPose view

def openpose18(keypoints: np.ndarray, scores: np.ndarray, threshold: float = sk.SCORE_THRESHOLD
               ) -> tuple[np.ndarray, np.ndarray]:
    """OpenPose-18 body of one person: ``(points (18, 2) float64, present (18,) bool)``.

    Point i is COCO point ``OPENPOSE_FROM_COCO[i]``; the neck is the shoulder midpoint and is
    present only when both shoulders are. A point is present when its score >= threshold and
    its coordinates are finite.
    """
    kp = np.asarray(keypoints, dtype=np.float64).reshape(sk.NUM_KEYPOINTS, 2)
    ok = _present_mask(kp, scores, threshold)
    points = np.zeros((len(sk.OPENPOSE_FROM_COCO), 2), dtype=np.float64)
    present = np.zeros(len(sk.OPENPOSE_FROM_COCO), dtype=bool)
    for i, coco in enumerate(sk.OPENPOSE_FROM_COCO):
        if coco is None:
            left, right = sk.LEFT_SHOULDER_COCO, sk.RIGHT_SHOULDER_COCO
            if ok[left] and ok[right]:
                points[i] = (kp[left] + kp[right]) / 2.0
                present[i] = True
        elif ok[coco]:
            points[i] = kp[coco]
            present[i] = True
    return points, present


def _present_mask(kp: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    sc = np.asarray(scores, dtype=np.float64).reshape(-1)
    return np.isfinite(kp).all(axis=1) & np.isfinite(sc) & (sc >= threshold)


# ---------------------------------------------------------------------------- writing

def to_pose_keypoint(frames: Union[FramePose, Sequence[FramePose]], *, body: bool = True, hands: bool = True,
                     face: bool = True, feet: bool = True, threshold: float = sk.SCORE_THRESHOLD) -> list[dict]:
    """FramePose list -> POSE_KEYPOINT (list of plain dicts, ``json.dumps``-safe).

    ``body``/``hands``/``face``/``feet`` disable parts: the part's OpenPose array becomes null
    and its points in ``wholebody_keypoints_2d`` become ``0, 0, 0`` (feet only exist there).
    A point is present (c = 1.0) when its score >= ``threshold``.
    """
    if isinstance(frames, FramePose):
        frames = [frames]
    enabled = {"body": body, "hands": hands, "face": face, "feet": feet}
    out = []
    for frame in frames:
        if not isinstance(frame, FramePose):
            raise TypeError(f"to_pose_keypoint expects FramePose objects; got {type(frame).__name__}")
        out.append({
            "people": [_person_dict(p, enabled, threshold) for p in frame.people],
            "canvas_width": int(frame.width),
            "canvas_height": int(frame.height),
        })
    return out


def _flat(points: np.ndarray, present: np.ndarray) -> list[float]:
    values: list[float] = []
    for (x, y), ok in zip(points.tolist(), present.tolist()):
        values += (float(x), float(y), 1.0) if ok else (0.0, 0.0, 0.0)
    return values


def _finite_or_zero(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _person_dict(person: Person, enabled: dict, threshold: float) -> dict:
    kp = person.keypoints.astype(np.float64)
    sc = person.scores.astype(np.float64)
    ok = _present_mask(kp, sc, threshold)

    def part(indices) -> list[float]:
        idx = list(indices)
        return _flat(kp[idx], ok[idx])

    d: dict[str, Any] = {}
    if enabled["body"]:
        points, present = openpose18(kp, sc, threshold)
        d[_POSE_KEY] = _flat(points, present)
    else:
        d[_POSE_KEY] = None
    # Pupils belong to the face array (and follow the face toggle), taken from the body's eyes.
    d[_FACE_KEY] = part(list(sk.FACE) + list(sk.FACE_PUPILS_FROM_COCO)) if enabled["face"] else None
    d[_LEFT_KEY] = part(sk.LEFT_HAND) if enabled["hands"] else None
    d[_RIGHT_KEY] = part(sk.RIGHT_HAND) if enabled["hands"] else None

    keep = np.zeros(sk.NUM_KEYPOINTS, dtype=bool)
    for name, flag in (("body", "body"), ("feet", "feet"), ("face", "face"),
                       ("left_hand", "hands"), ("right_hand", "hands")):
        if enabled[flag]:
            keep[list(sk.PARTS[name])] = True
    keep &= np.isfinite(kp).all(axis=1) & np.isfinite(sc)
    wholebody: list[float] = []
    for (x, y), s, k in zip(kp.tolist(), sc.tolist(), keep.tolist()):
        wholebody += (float(x), float(y), float(s)) if k else (0.0, 0.0, 0.0)
    d[_WHOLEBODY_KEY] = wholebody
    d[_BOX_KEY] = [_finite_or_zero(v) for v in person.box.tolist()] + [_finite_or_zero(person.box_score)]
    if person.track_id is not None:
        d[_TRACK_KEY] = int(person.track_id)
    return d


# ---------------------------------------------------------------------------- reading

def from_pose_keypoint(data: PoseKeypointInput, *, canvas_size: Optional[tuple[int, int]] = None
                       ) -> list[FramePose]:
    """POSE_KEYPOINT / OpenPose JSON -> list of FramePose (one per frame).

    ``data``: a list of frame dicts, one frame dict, or JSON text (str or bytes) of either.
    Uses ``wholebody_keypoints_2d`` / ``box_2d`` / ``track_id`` when present (exact points and
    real scores); a part whose OpenPose array was edited afterwards (a point moved or added)
    or set to null is taken from the array instead. Without them, the OpenPose arrays are
    mapped back to COCO-WholeBody: ``pose_keypoints_2d`` as OpenPose-18 (neck dropped) or
    BODY_25 (75 numbers; feet kept), face as 70 or 68 points (pupils ignored), hands as 21;
    score = c. Coordinates are treated as normalised (and scaled by the canvas) when every
    point with c > 0 in a frame's OpenPose arrays lies within [0, 1], as the common decoders do.
    ``canvas_size=(W, H)`` is used for frames without ``canvas_width``/``canvas_height`` (plain
    OpenPose output has none); otherwise such a frame is a :class:`FormatError`.
    """
    frames = _frame_list(data)
    return [_read_frame(frame, i, canvas_size) for i, frame in enumerate(frames)]


def _frame_list(data: Any) -> list:
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FormatError(f"POSE_KEYPOINT bytes are not UTF-8 text: {exc}") from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise FormatError(f"POSE_KEYPOINT is not valid JSON: {exc.msg} at line {exc.lineno} "
                              f"column {exc.colno}") from None
    if isinstance(data, dict):
        return [data]
    if isinstance(data, (list, tuple)):
        return list(data)
    raise FormatError(f"POSE_KEYPOINT must be a list of frame dicts, one frame dict or JSON text; "
                      f"got {type(data).__name__}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


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
        if not _is_number(value) or not math.isfinite(value) or value != int(value) or value <= 0:
            raise FormatError(f"{where}: {key} is {value!r}; expected a positive whole number of pixels")
        size.append(int(value))
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
                          f"[x, y, c, ...] or null")
    if len(value) not in expected:
        raise FormatError(f"{path}.{key} has {len(value)} numbers; expected " + " or ".join(expected.values()))
    for k, v in enumerate(value):
        if not _is_number(v):
            raise FormatError(f"{path}.{key}[{k}] is {v!r}; expected a number")
        if not math.isfinite(v):
            raise FormatError(f"{path}.{key}[{k}] is {v!r}; expected a finite number")
    return np.asarray(value, dtype=np.float64).reshape(-1, 5 if key == _BOX_KEY else 3)


_EXPECTED = {
    _POSE_KEY: {54: "54 (OpenPose-18: 18 points x 3)", 75: "75 (BODY_25: 25 points x 3)"},
    _FACE_KEY: {210: "210 (70 points x 3)", 204: "204 (68 points x 3)"},
    _LEFT_KEY: {63: "63 (21 points x 3)"},
    _RIGHT_KEY: {63: "63 (21 points x 3)"},
    _WHOLEBODY_KEY: {399: "399 (133 points x 3)"},
    _BOX_KEY: {5: "5 ([x1, y1, x2, y2, score])"},
}


_PART_OF = {
    _POSE_KEY: list(sk.BODY),
    _FACE_KEY: list(sk.FACE),
    _LEFT_KEY: list(sk.LEFT_HAND),
    _RIGHT_KEY: list(sk.RIGHT_HAND),
}


def _rows(key: str, n_points: int) -> list[tuple[int, int]]:
    """(array row, COCO-WholeBody index) pairs that an OpenPose array carries."""
    if key == _POSE_KEY:
        if n_points == 25:
            return sorted(COCO_FROM_BODY25.items())
        return [(i, coco) for i, coco in enumerate(sk.OPENPOSE_FROM_COCO) if coco is not None]
    if key == _FACE_KEY:
        return list(enumerate(sk.FACE))  # rows 68/69 (pupils) are the body's eyes: ignored
    hand = sk.LEFT_HAND if key == _LEFT_KEY else sk.RIGHT_HAND
    return list(enumerate(hand))


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

    parsed = []
    for j, person in enumerate(people):
        path = f"{where}: people[{j}]"
        if not isinstance(person, dict):
            raise FormatError(f"{path} is a {type(person).__name__}; expected a dict")
        fields = {key: _numbers(person, key, path, expected) for key, expected in _EXPECTED.items()}
        parsed.append((path, person, fields))

    # Normalised coordinates, decided per frame over every point with c > 0 in the OpenPose arrays.
    coords = [f[key][f[key][:, 2] > 0, :2] for _, _, f in parsed
              for key in (_POSE_KEY, _FACE_KEY, _LEFT_KEY, _RIGHT_KEY) if f[key] is not None]
    coords = np.concatenate(coords) if coords else np.zeros((0, 2))
    scale = np.array([width, height], dtype=np.float64) if (
        len(coords) and bool(((coords >= 0) & (coords <= 1)).all())) else np.ones(2)

    result = [_read_person(path, person, fields, scale) for path, person, fields in parsed]
    return FramePose(width, height, result)


def _read_person(path: str, person: dict, fields: dict, scale: np.ndarray) -> Person:
    arrays = {key: fields[key] for key in (_POSE_KEY, _FACE_KEY, _LEFT_KEY, _RIGHT_KEY)}
    wholebody = fields[_WHOLEBODY_KEY]
    if wholebody is not None:
        kp = wholebody[:, :2].copy()
        sc = wholebody[:, 2].copy()
        for key, array in arrays.items():
            part = _PART_OF[key]
            if array is None or _edited(array, _rows(key, len(array)), kp, sc, scale):
                # A part set to null is absent everywhere; an edited one comes from its array.
                kp[part] = 0.0
                sc[part] = 0.0
                if array is not None:
                    _fill_from_array(kp, sc, array, _rows(key, len(array)), scale)
    else:
        kp = np.zeros((sk.NUM_KEYPOINTS, 2), dtype=np.float64)
        sc = np.zeros(sk.NUM_KEYPOINTS, dtype=np.float64)
        for key, array in arrays.items():
            if array is not None:
                _fill_from_array(kp, sc, array, _rows(key, len(array)), scale)

    box_field = fields[_BOX_KEY]
    if box_field is not None:
        box, box_score = box_field[0, :4], float(box_field[0, 4])
    else:
        box, box_score = _box_from_points(kp, sc), 1.0
    return Person(kp, sc, box, box_score, _track_id(person, path))


def _fill_from_array(kp: np.ndarray, sc: np.ndarray, array: np.ndarray, rows, scale: np.ndarray) -> None:
    for row, coco in rows:
        x, y, c = array[row]
        if c > 0:
            kp[coco] = (x * scale[0], y * scale[1])
            sc[coco] = c


def _edited(array: np.ndarray, rows, kp: np.ndarray, sc: np.ndarray, scale: np.ndarray) -> bool:
    """True when an array point with c > 0 lies away from the lossless field's point (moved or added).

    The lossless field keeps every point's real position, even below the threshold, so any
    point an editor moved or switched on shows up as a position difference.
    """
    for row, coco in rows:
        x, y, c = array[row]
        if c > 0 and (abs(x * scale[0] - kp[coco, 0]) > _EDIT_TOLERANCE
                      or abs(y * scale[1] - kp[coco, 1]) > _EDIT_TOLERANCE):
            return True
    return False


def _box_from_points(kp: np.ndarray, sc: np.ndarray) -> np.ndarray:
    present = kp[sc > 0]
    if not len(present):
        return np.zeros(4)
    return np.concatenate([present.min(axis=0), present.max(axis=0)])


def _track_id(person: dict, path: str) -> Optional[int]:
    value = person.get(_TRACK_KEY)
    if value is None:
        return None
    if not _is_number(value) or not math.isfinite(value) or value != int(value):
        raise FormatError(f"{path}.{_TRACK_KEY} is {value!r}; expected a whole number or null")
    return int(value)


# ---------------------------------------------------------------------------- files

def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_json(path: Union[str, os.PathLike], data: Union[PoseKeypointInput, Sequence[FramePose]]) -> Path:
    """Write POSE_KEYPOINT (or FramePose objects, converted with the defaults) as UTF-8 JSON.

    The file is written to a temporary name and renamed, so a reader never sees half a file.
    """
    path = Path(path)
    if isinstance(data, FramePose) or (isinstance(data, (list, tuple)) and data
                                       and all(isinstance(f, FramePose) for f in data)):
        data = to_pose_keypoint(data)
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the user's file follows their umask
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


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
