"""Choosing people across frames (dwpose_core.selection.people): by mode, position and track id."""
from __future__ import annotations

import numpy as np
import pytest

from dwpose_core.selection.people import choose, keep_indices, keep_track_ids, parse_indices, switch_parts_off
from dwpose_core.types import FramePose, Person


def someone(size: float, score: float, track=None, parts=("body", "hands", "face", "feet")) -> Person:
    return Person(np.zeros((133, 2)), np.zeros(133), [0, 0, size, size], score, track, parts)


def frames(tracked=False):
    return [FramePose(100, 100, [someone(10, 0.9, 0 if tracked else None), someone(50, 0.5, 1 if tracked else None,
                                                                                  ("body",))]),
            FramePose(100, 100, [someone(20, 0.8, 1 if tracked else None)])]


def test_parse_indices():
    assert parse_indices("0, 2;-1,") == [0, 2, -1]
    with pytest.raises(ValueError, match="'x'"):
        parse_indices("0, x")


def test_by_index_keeps_positions_each_frame_has_and_copies():
    src = frames()
    out = keep_indices(src, [1, -1, 5])
    assert [[p.box_score for p in f.people] for f in out] == [[0.5, 0.5], [0.8]]
    assert out[0].people[0] is not src[0].people[1] and out[0].people[0].parts == ("body",)
    assert len(src[0].people) == 2  # input unchanged


def test_by_track_id():
    out = keep_track_ids(frames(tracked=True), [1])
    assert [[p.track_id for p in f.people] for f in out] == [[1], [1]]
    with pytest.raises(ValueError, match="track"):
        keep_track_ids(frames(), [0])


def test_choose_modes():
    assert [[p.box_score for p in f.people] for f in choose(frames(), "largest")] == [[0.5], [0.8]]
    assert [[p.box_score for p in f.people] for f in choose(frames(), "most_confident")] == [[0.9], [0.8]]
    assert choose(frames(), "by_index", indices=[0])[1].people[0].box_score == 0.8
    with pytest.raises(ValueError, match="by_track_id"):
        choose(frames(), "nope")


def test_switch_parts_off_keeps_people_and_narrows_frame_parts():
    (f, _) = switch_parts_off(frames(), face=False, feet=False)
    assert f.parts == ("body", "hands") and len(f.people) == 2
