"""ComfyUI core's BOUNDING_BOX <-> the core's per-frame box arrays.

BOUNDING_BOX (REFERENCE.md; ComfyUI core's ``io.BoundingBox``): per frame, a list of
``{"x": int, "y": int, "width": int, "height": int}`` in pixels (x, y = top-left corner).
Inside the core, boxes are float arrays ``[x1, y1, x2, y2]``, one ``(k, 4)`` array per frame
(DESIGN: "Boxes").

Accepted when reading (anything else is a :class:`BoundingBoxError` naming the frame and box):

- a list of frames, each a list of box dicts (``[]`` or ``None``: no box in that frame) or a
  single box dict;
- a flat list of box dicts or a single box dict: one frame.

With ``n_frames``, a single frame of boxes is used for every frame; any other count that
differs from ``n_frames`` is an error. With ``image_size``, boxes are clipped to the image and
a box entirely outside it is an error.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Any, Optional, Sequence

import numpy as np

from ..types import FramePose
from ..errors import DWPoseError

__all__ = ["BoundingBoxError", "from_bounding_box", "to_bounding_box", "from_bounding_boxes", "to_bounding_boxes",
           "person_boxes"]

_KEYS = ("x", "y", "width", "height")


class BoundingBoxError(DWPoseError, ValueError):
    """A BOUNDING_BOX value that cannot be read; the message says where and why."""


def _is_box(value: Any) -> bool:
    return isinstance(value, dict)


def _number(box: dict, key: str, where: str) -> float:
    if key not in box:
        raise BoundingBoxError(f"{where}: missing {key!r} (a box is {{'x', 'y', 'width', 'height'}} in pixels)")
    value = box[key]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise BoundingBoxError(f"{where}: {key!r} must be a finite number, got {value!r}")
    return float(value)


def _read_box(box: Any, where: str) -> np.ndarray:
    if not _is_box(box):
        raise BoundingBoxError(f"{where}: expected a dict with x, y, width, height; got {type(box).__name__}")
    x, y, w, h = (_number(box, k, where) for k in _KEYS)
    if w <= 0 or h <= 0:
        raise BoundingBoxError(f"{where}: width and height must be > 0, got width={w:g}, height={h:g}")
    return np.array([x, y, x + w, y + h], np.float64)


def _frames(value: Any) -> list:
    if value is None:
        raise BoundingBoxError("no BOUNDING_BOX value (None)")
    if _is_box(value):
        return [[value]]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise BoundingBoxError(f"BOUNDING_BOX must be a list of frames of boxes; got {type(value).__name__}")
    items = list(value)
    if items and all(_is_box(v) for v in items):
        return [items]
    return items


def from_bounding_box(value: Any, *, n_frames: Optional[int] = None,
                      image_size: Optional[tuple[int, int]] = None) -> list[np.ndarray]:
    """BOUNDING_BOX -> one float32 ``(k, 4)`` array of ``[x1, y1, x2, y2]`` per frame (see the module text)."""
    frames = _frames(value)
    out = []
    for t, frame in enumerate(frames):
        if frame is None:
            boxes = []
        elif _is_box(frame):
            boxes = [_read_box(frame, f"frame {t}")]
        elif isinstance(frame, Sequence) and not isinstance(frame, (str, bytes)):
            boxes = [_read_box(b, f"frame {t}, box {i}") for i, b in enumerate(frame)]
        else:
            raise BoundingBoxError(f"frame {t}: expected a list of boxes; got {type(frame).__name__}")
        arr = np.array(boxes, np.float64).reshape(-1, 4)
        if image_size is not None:
            arr = _clip(arr, image_size, t)
        out.append(arr.astype(np.float32))
    if n_frames is not None:
        if len(out) == 1 and n_frames != 1:
            out = [out[0].copy() for _ in range(n_frames)]
        elif len(out) != n_frames:
            raise BoundingBoxError(f"BOUNDING_BOX has {len(out)} frames of boxes for {n_frames} images; give one "
                                   f"list of boxes per image, or one list for all of them")
    return out


def _clip(arr: np.ndarray, image_size: tuple[int, int], t: int) -> np.ndarray:
    width, height = image_size
    clipped = arr.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
    empty = (clipped[:, 2] <= clipped[:, 0]) | (clipped[:, 3] <= clipped[:, 1])
    if empty.any():
        i = int(np.argmax(empty))
        x1, y1, x2, y2 = arr[i]
        raise BoundingBoxError(f"frame {t}, box {i}: ({x1:g}, {y1:g}) to ({x2:g}, {y2:g}) lies outside the "
                               f"{width}x{height} image")
    return clipped


def to_bounding_box(boxes: Sequence[Any]) -> list[list[dict]]:
    """Per-frame ``(k, 4)`` arrays of ``[x1, y1, x2, y2]`` -> BOUNDING_BOX (whole pixels).

    Corners are rounded to the nearest pixel (halves up); width and height are at least 1.
    Non-finite boxes are an error.
    """
    out = []
    for t, frame in enumerate(boxes):
        arr = np.asarray(frame, np.float64).reshape(-1, 4)
        if not np.isfinite(arr).all():
            raise BoundingBoxError(f"frame {t}: a box has a non-finite coordinate")
        corners = np.floor(arr + 0.5).astype(np.int64)
        entries = []
        for x1, y1, x2, y2 in corners.tolist():
            entries.append({"x": int(x1), "y": int(y1), "width": max(int(x2 - x1), 1),
                            "height": max(int(y2 - y1), 1)})
        out.append(entries)
    return out


def person_boxes(frames: Sequence[FramePose]) -> list[np.ndarray]:
    """Each frame's people's detection boxes, ``(k, 4)`` float32 (people order)."""
    return [np.array([p.box for p in f.people], np.float32).reshape(-1, 4) for f in frames]


# Plural spellings, as the callers name them.
from_bounding_boxes = from_bounding_box
to_bounding_boxes = to_bounding_box
