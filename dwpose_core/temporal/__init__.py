"""Video: identity tracking, zero-lag smoothing, boxes between detections (track-aware selection:
:mod:`dwpose_core.selection.tracks`).

Typical use on one clip (or consecutive batches of it, with the states)::

    tracker, smoother = TrackerState(), SmootherState()
    for batch in batches:
        poses = estimator(batch)
        track(poses, tracker)                                  # sets Person.track_id in place
        poses = select_tracks(poses, "largest", state=tracker)  # dwpose_core.selection.tracks
        poses = smooth(poses, strength=1.0, state=smoother)    # copies, smoothed

numpy only: no framework imports.
"""
from __future__ import annotations

from .assignment import linear_assignment
from .boxes import boxes_between, boxes_from_keypoints
from .smoothing import DEFAULT_BANDWIDTHS, SmootherState, context_length, smooth, smooth_trajectories
from .tracking import TrackerState, TrackStats, track

# Release 0.1's README documented select_tracks here; it moved to dwpose_core.selection.tracks.
# This shim (a DeprecationWarning, by name so that temporal never imports a selection module at
# load time) goes in the next release.
_MOVED = {"select_tracks": "dwpose_core.selection.tracks", "clip_track_stats": "dwpose_core.selection.tracks"}


def __getattr__(name: str):
    if name in _MOVED:
        import importlib
        import warnings

        warnings.warn(f"dwpose_core.temporal.{name} moved to {_MOVED[name]}.{name}; the old name goes "
                      "in the next release", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "TrackerState", "TrackStats", "track",
    "SmootherState", "smooth", "smooth_trajectories", "context_length", "DEFAULT_BANDWIDTHS",
    "boxes_from_keypoints", "boxes_between",
    "linear_assignment",
]
