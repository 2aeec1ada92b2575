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

Previews are the renderer's own drawing commands (``dwpose_core.render.draw.pose_commands``) for
the frame at its canvas size (coordinates in the drawing canvas, ``width`` x ``height``), so
neither this module nor the JavaScript holds a copy of any table or rule. Long clips carry the
per-frame counts (a few bytes a frame), never the whole JSON.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

PREVIEW_FRAMES = 8
FULL_JSON_FRAMES = 8
PART_COLUMNS = ("body", "hands", "face", "feet")


def part_counts(frame, enabled: dict, threshold: float) -> list[int]:
    """[people, people showing body, hands, face, feet] for one FramePose (the core's present rule)."""
    from dwpose_core.types import enabled_parts

    row = [len(frame.people)]
    for part in PART_COLUMNS:
        row.append(sum(1 for p in frame.people
                       if part in enabled_parts(frame, p, **enabled) and p.shows(part, threshold)))
    return row


def preview(frame, index: int, options: dict) -> dict:
    """One frame's drawing commands from the renderer (lines and points, in drawing-canvas pixels)."""
    from dwpose_core.render.draw import pose_commands

    drawing = pose_commands(frame, size=(frame.width, frame.height), **options)
    lines: list = []
    points: list = []
    for strokes in drawing.strokes:
        colors = ["#%02x%02x%02x" % tuple(c) for c in strokes.colors.tolist()]
        a = np.round(strokes.a, 1).tolist()
        if strokes.kind == "dot":
            points += [xy + [c] for xy, c in zip(a, colors)]
        else:
            b = np.round(strokes.b, 1).tolist()
            lines += [p + q + [c] for p, q, c in zip(a, b, colors)]
    return {"frame": index, "width": int(drawing.width), "height": int(drawing.height),
            "lines": lines, "points": points}


def preview_indices(n_frames: int, limit: int = PREVIEW_FRAMES) -> list[int]:
    if n_frames <= limit:
        return list(range(n_frames))
    return sorted({int(round(i * (n_frames - 1) / (limit - 1))) for i in range(limit)})


def summarise(frames: Sequence, *, body: bool = True, hands: bool = True, face: bool = True,
              feet: Optional[bool] = True, threshold: Optional[float] = None,
              pose_keypoint: Optional[list] = None, **render_options) -> dict:
    """The UI summary of a list of FramePose (see the module docstring).

    Counts use the core's present rule and each frame's own parts; previews are the renderer's
    drawing commands with the same options as the pictures (``profile``, ``xinsir`` ...).
    """
    from dwpose_core.render.profiles import get_profile

    profile = get_profile(render_options.get("profile", "controlnet"))
    threshold = profile.threshold if threshold is None else threshold
    enabled = {"body": body, "hands": hands, "face": face, "feet": feet is not False}
    options = dict(body=body, hands=hands, face=face, feet=feet, threshold=threshold, **render_options)
    out = {
        "frames": len(frames),
        "parts": list(PART_COLUMNS),
        "counts": [part_counts(f, enabled, threshold) for f in frames],
        "previews": [preview(frames[i], i, options) for i in preview_indices(len(frames))],
    }
    if pose_keypoint is not None and len(frames) <= FULL_JSON_FRAMES:
        out["pose_keypoint"] = pose_keypoint
    return out


def ui_output(summary: dict) -> dict:
    return {"dwpose": [summary]}
