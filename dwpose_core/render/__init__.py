"""Pose pictures: the drawing (:mod:`.draw`) and the render profiles of the video models as data
(:mod:`.profiles`). ``from dwpose_core.render import draw_pose`` loads :mod:`.draw` on first use."""
from __future__ import annotations

import importlib

_PUBLIC = ("draw_pose", "draw_poses", "output_size", "line_widths", "pose_commands", "OutputSizeError",
           "MAX_SIDE", "MAX_PIXELS")
__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(".draw", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
