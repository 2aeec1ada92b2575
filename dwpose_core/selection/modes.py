"""Which people to keep in a frame.

Modes: ``all``; ``largest`` (largest box area); ``most_confident`` (highest
detection score); ``top_k`` (the k largest boxes). ``max_people`` then caps
the count, keeping the most confident. Order of the result: best first by
the mode's key (``all``: detection score).
"""
from __future__ import annotations

from typing import Optional, Sequence

SELECTION_MODES = ("all", "largest", "most_confident", "top_k")


def check_mode(mode: str) -> None:
    if mode not in SELECTION_MODES:
        raise ValueError(f"Unknown person selection {mode!r}; use one of {', '.join(SELECTION_MODES)}.")


def select_indices(areas: Sequence[float], scores: Sequence[float], mode: str = "all", top_k: int = 1,
                   max_people: Optional[int] = None) -> list[int]:
    """Indices of the people to keep, given their box areas and detection scores."""
    check_mode(mode)
    n = len(areas)
    by_score = sorted(range(n), key=lambda i: -scores[i])
    by_area = sorted(range(n), key=lambda i: -areas[i])
    if mode == "all":
        chosen = by_score
    elif mode == "largest":
        chosen = by_area[:1]
    elif mode == "most_confident":
        chosen = by_score[:1]
    else:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}.")
        chosen = by_area[:top_k]
    if max_people is not None:
        if max_people < 0:
            raise ValueError(f"max_people must be >= 0, got {max_people}.")
        keep = set(sorted(chosen, key=lambda i: -scores[i])[:max_people])
        chosen = [i for i in chosen if i in keep]
    return chosen


def select_people(people, mode: str = "all", top_k: int = 1, max_people: Optional[int] = None):
    """Filter a list of :class:`~dwpose_core.types.Person` by the rules above."""
    idx = select_indices([p.box_area for p in people], [p.box_score for p in people], mode, top_k, max_people)
    return [people[i] for i in idx]
