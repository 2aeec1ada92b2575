"""The compact UI output the frontend (web/dwpose.js) draws from.

``ui["dwpose"] = [summary]`` with::

    {"frames": N,
     "counts": [[people, body, hands, face, feet], ...],   # one row per frame: how many people,
                                                           # and how many of them show each part
     "parts": ["body", "hands", "face", "feet"],           # column names of counts[i][1:]
     "previews": [{"frame": i, "width": W, "height": H,    # up to PREVIEW_FRAMES frames, evenly spaced
                   "lines": [[x1, y1, x2, y2, "#rrggbb"], ...],
                   "points": [[x, y, "#rrggbb"], ...]}, ...],
     "pose_keypoint": [...]}                               # the whole JSON, short clips only

Previews are drawing commands in canvas pixels, built here from the skeleton
tables, so the JavaScript holds no copy of any table. Long clips carry the
per-frame counts (a few bytes a frame), never the whole JSON.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

PREVIEW_FRAMES = 8
FULL_JSON_FRAMES = 8
PART_COLUMNS = ("body", "hands", "face", "feet")


def _hex(color) -> str:
    return "#%02x%02x%02x" % tuple(int(c) for c in color)


def _xy(point) -> list[float]:
    return [round(float(point[0]), 1), round(float(point[1]), 1)]


def part_counts(frame, enabled: dict, threshold: float) -> list[int]:
    """[people, people showing body, hands, face, feet] for one FramePose."""
    from dwpose_core import skeleton as sk

    ranges = {
        "body": list(sk.BODY),
        "hands": list(sk.LEFT_HAND) + list(sk.RIGHT_HAND),
        "face": list(sk.FACE),
        "feet": list(sk.FEET),
    }
    row = [len(frame.people)]
    for part in PART_COLUMNS:
        idx = ranges[part]
        row.append(0 if not enabled[part] else
                   sum(1 for p in frame.people if bool((np.asarray(p.scores)[idx] >= threshold).any())))
    return row


def preview(frame, index: int, enabled: dict, threshold: float) -> dict:
    """Drawing commands for one frame, in the OpenPose colours."""
    from dwpose_core import skeleton as sk
    from dwpose_core.formats import openpose18

    lines: list = []
    points: list = []
    for person in frame.people:
        kp = np.asarray(person.keypoints, dtype=np.float64)
        ok = np.asarray(person.scores) >= threshold
        if enabled["body"]:
            body, present = openpose18(kp, person.scores, threshold)
            for i, (a, b) in enumerate(sk.OPENPOSE_LIMBS):
                if present[a] and present[b]:
                    shade = [c * sk.LIMB_SHADE for c in sk.OPENPOSE_COLORS[i]]
                    lines.append(_xy(body[a]) + _xy(body[b]) + [_hex(shade)])
            for j in np.flatnonzero(present):
                points.append(_xy(body[j]) + [_hex(sk.OPENPOSE_COLORS[j])])
        if enabled["feet"]:
            for (a, b), color in zip(sk.FOOT_EDGES, sk.FOOT_EDGE_COLORS):
                if ok[a] and ok[b]:
                    lines.append(_xy(kp[a]) + _xy(kp[b]) + [_hex(color)])
        if enabled["hands"]:
            for hand in (sk.LEFT_HAND, sk.RIGHT_HAND):
                base = hand.start
                for (a, b), color in zip(sk.HAND_EDGES, sk.HAND_EDGE_COLORS):
                    if ok[base + a] and ok[base + b]:
                        lines.append(_xy(kp[base + a]) + _xy(kp[base + b]) + [_hex(color)])
                points += [_xy(kp[k]) + [_hex(sk.HAND_POINT_COLOR)] for k in hand if ok[k]]
        if enabled["face"]:
            points += [_xy(kp[k]) + [_hex(sk.FACE_POINT_COLOR)] for k in sk.FACE if ok[k]]
    return {"frame": index, "width": int(frame.width), "height": int(frame.height),
            "lines": lines, "points": points}


def preview_indices(n_frames: int, limit: int = PREVIEW_FRAMES) -> list[int]:
    if n_frames <= limit:
        return list(range(n_frames))
    return sorted({int(round(i * (n_frames - 1) / (limit - 1))) for i in range(limit)})


def summarise(frames: Sequence, *, body: bool = True, hands: bool = True, face: bool = True,
              feet: bool = True, threshold: Optional[float] = None,
              pose_keypoint: Optional[list] = None) -> dict:
    """The UI summary of a list of FramePose (see the module docstring)."""
    from dwpose_core import skeleton as sk

    threshold = sk.SCORE_THRESHOLD if threshold is None else threshold
    enabled = {"body": body, "hands": hands, "face": face, "feet": feet}
    out = {
        "frames": len(frames),
        "parts": list(PART_COLUMNS),
        "counts": [part_counts(f, enabled, threshold) for f in frames],
        "previews": [preview(frames[i], i, enabled, threshold) for i in preview_indices(len(frames))],
    }
    if pose_keypoint is not None and len(frames) <= FULL_JSON_FRAMES:
        out["pose_keypoint"] = pose_keypoint
    return out


def ui_output(summary: dict) -> dict:
    return {"dwpose": [summary]}
