"""Video: identity tracking, track-aware selection, zero-lag smoothing, boxes between detections.

Typical use on one clip (or consecutive batches of it, with the states)::

    tracker, smoother = TrackerState(), SmootherState()
    for batch in batches:
        poses = estimator(batch)
        track(poses, tracker)                                  # sets Person.track_id in place
        poses = select_tracks(poses, "largest", state=tracker)  # same person in every frame
        poses = smooth(poses, strength=1.0, state=smoother)    # copies, smoothed

numpy only: no framework imports.
"""
from __future__ import annotations

from .assignment import linear_assignment
from .boxes import boxes_between, boxes_from_keypoints
from .selection import clip_track_stats, select_tracks
from .smoothing import DEFAULT_BANDWIDTHS, SmootherState, context_length, smooth, smooth_trajectories
from .tracking import TrackerState, TrackStats, track

__all__ = [
    "TrackerState", "TrackStats", "track",
    "select_tracks", "clip_track_stats",
    "SmootherState", "smooth", "smooth_trajectories", "context_length", "DEFAULT_BANDWIDTHS",
    "boxes_from_keypoints", "boxes_between",
    "linear_assignment",
]
