"""Track-aware person selection: rank whole tracks, not per-frame boxes.

Per-frame "largest" flips between two similar people whenever noise swaps
their sizes. Here each track is ranked once by its clip-wide statistics —
mean box area and mean detection score over *all* frames of the clip, a
frame without the track counting as zero (so a person seen briefly does not
outrank the one seen throughout) — and the same tracks are kept in every frame.
The modes and their keys are those of :func:`dwpose_core.selection.modes.select_people`.
"""
from __future__ import annotations

from typing import Optional, Sequence

from .modes import check_mode, select_indices
from ..types import FramePose
from ..temporal.tracking import TrackerState

__all__ = ["select_tracks", "clip_track_stats"]


def clip_track_stats(frames: Sequence[FramePose]) -> dict[int, tuple[float, float]]:
    """``{track_id: (mean box area, mean box score)}`` over all frames (absent = 0)."""
    sums: dict[int, list[float]] = {}
    for frame in frames:
        for person in frame.people:
            if person.track_id is None:
                raise ValueError(
                    "select_tracks needs track ids; run dwpose_core.temporal.track(frames) first."
                )
            acc = sums.setdefault(person.track_id, [0.0, 0.0])
            acc[0] += person.box_area
            acc[1] += person.box_score
    n = max(len(frames), 1)
    return {tid: (a / n, s / n) for tid, (a, s) in sums.items()}


def select_tracks(
    frames: Sequence[FramePose],
    mode: str = "largest",
    top_k: int = 1,
    max_people: Optional[int] = None,
    state: Optional[TrackerState] = None,
) -> list[FramePose]:
    """Copies of ``frames`` keeping the same chosen tracks in every frame.

    ``mode`` is "all", "largest", "most_confident" or "top_k" (the ``top_k``
    largest tracks); ``max_people`` caps the count, keeping the most confident
    tracks. With the ``state`` that :func:`track` returned, the ranking uses the
    statistics of every batch of the clip so far, so consecutive batches keep
    the same person. People in a frame come out best track first.
    """
    check_mode(mode)
    if state is not None and state.frame_index > 0:
        n = state.frame_index
        ranked = {tid: (s.area_sum / n, s.score_sum / n) for tid, s in state.stats.items()}
        clip_track_stats(frames)  # still insists on track ids
    else:
        ranked = clip_track_stats(frames)
    ids = list(ranked)
    chosen = select_indices([ranked[t][0] for t in ids], [ranked[t][1] for t in ids], mode, top_k, max_people)
    order = {ids[i]: rank for rank, i in enumerate(chosen)}
    out = []
    for frame in frames:
        keep = sorted((p for p in frame.people if p.track_id in order), key=lambda p: order[p.track_id])
        out.append(FramePose(frame.width, frame.height, [p.copy() for p in keep], frame.parts))
    return out
