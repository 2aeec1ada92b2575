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

__all__ = [
    "TrackerState", "TrackStats", "track",
    "SmootherState", "smooth", "smooth_trajectories", "context_length", "DEFAULT_BANDWIDTHS",
    "boxes_from_keypoints", "boxes_between",
    "linear_assignment",
]
