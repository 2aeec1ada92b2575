"""Choosing people and parts across frames: by mode, by position, by track id.

The ComfyUI Select People node, the CLI and scripts use these; none of them re-implements a
rule. Modes (:data:`CHOOSE_MODES`): the per-frame modes of :mod:`dwpose_core.selection.modes`
(``all``, ``largest``, ``most_confident``, ``top_k``; with track ids on every person, the same
tracks are kept in every frame via :func:`dwpose_core.selection.tracks.select_tracks`), plus
``by_index`` (positions in each frame's people list; negative positions count from the end;
positions a frame lacks are skipped) and ``by_track_id``.
Every function returns new FramePose objects; the input frames are not changed.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from .modes import SELECTION_MODES, select_people
from ..types import FramePose

__all__ = ["CHOOSE_MODES", "parse_indices", "has_track_ids", "keep_indices", "keep_track_ids", "choose",
           "switch_parts_off"]

CHOOSE_MODES = SELECTION_MODES + ("by_index", "by_track_id")


def parse_indices(text: str, what: str = "indices") -> list[int]:
    """``"0, 2"`` (commas or semicolons) -> ``[0, 2]``; empty -> ``[]``. A ValueError names the
    wrong token and ``what`` the text was (e.g. "track_ids")."""
    values = []
    for token in str(text or "").replace(";", ",").split(","):
        token = token.strip()
        if not token:
            continue
        try:
            values.append(int(token))
        except ValueError:
            raise ValueError(f"{token!r} in {what} is not a whole number; write e.g. '0, 2'") from None
    return values


def _with_people(frame: FramePose, people: list) -> FramePose:
    return FramePose(frame.width, frame.height, [p.copy() for p in people], frame.parts)


def has_track_ids(frames: Sequence[FramePose]) -> bool:
    """True when every person of every frame has a track id (and there is at least one person)."""
    people = [p for f in frames for p in f.people]
    return bool(people) and all(p.track_id is not None for p in people)


def keep_indices(frames: Sequence[FramePose], indices: Iterable[int]) -> list[FramePose]:
    """Each frame keeps the people at ``indices`` (in that order)."""
    wanted = list(indices)
    return [_with_people(f, [f.people[i] for i in wanted if -len(f.people) <= i < len(f.people)]) for f in frames]


def keep_track_ids(frames: Sequence[FramePose], track_ids: Iterable[int]) -> list[FramePose]:
    """Each frame keeps the people whose track id is in ``track_ids``; ValueError without track ids."""
    wanted = set(track_ids)
    if any(p.track_id is None for f in frames for p in f.people):
        raise ValueError("choosing by track id needs poses with track ids; turn on tracking or smooth them first")
    return [_with_people(f, [p for p in f.people if p.track_id in wanted]) for f in frames]


def choose(frames: Sequence[FramePose], mode: str = "all", *, top_k: int = 1,
           indices: Iterable[int] = ()) -> list[FramePose]:
    """The people ``mode`` keeps in every frame (see the module docstring)."""
    if mode not in CHOOSE_MODES:
        raise ValueError(f"unknown selection {mode!r}; use one of {', '.join(CHOOSE_MODES)}")
    if mode == "by_index":
        return keep_indices(frames, indices)
    if mode == "by_track_id":
        return keep_track_ids(frames, indices)
    if mode != "all" and has_track_ids(frames):
        from .tracks import select_tracks

        return select_tracks(list(frames), mode=mode, top_k=int(top_k))
    return [_with_people(f, select_people(f.people, mode, top_k=int(top_k))) for f in frames]


def switch_parts_off(frames: Sequence[FramePose], **toggles: bool) -> list[FramePose]:
    """Copies whose ``FramePose.parts`` lack the parts toggled False (``body=False`` etc.)."""
    return [FramePose(f.width, f.height, [p.copy() for p in f.people],
                      tuple(part for part in f.parts if toggles.get(part, True) is not False)) for f in frames]
