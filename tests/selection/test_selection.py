import pytest

from dwpose_core.selection.modes import select_indices

AREAS = [100.0, 400.0, 50.0, 300.0]
SCORES = [0.9, 0.5, 0.95, 0.6]


def test_all_is_ordered_by_score():
    assert select_indices(AREAS, SCORES, "all") == [2, 0, 3, 1]


def test_largest_and_most_confident():
    assert select_indices(AREAS, SCORES, "largest") == [1]
    assert select_indices(AREAS, SCORES, "most_confident") == [2]


def test_top_k_takes_the_k_largest():
    assert select_indices(AREAS, SCORES, "top_k", top_k=2) == [1, 3]


def test_max_people_keeps_the_most_confident():
    assert select_indices(AREAS, SCORES, "all", max_people=2) == [2, 0]
    assert select_indices(AREAS, SCORES, "top_k", top_k=3, max_people=1) == [0]  # of 1, 3, 0 the most confident
    assert select_indices([], [], "largest") == []


def test_bad_mode_and_k_are_clear_errors():
    with pytest.raises(ValueError, match="one of"):
        select_indices(AREAS, SCORES, "biggest")
    with pytest.raises(ValueError, match="top_k"):
        select_indices(AREAS, SCORES, "top_k", top_k=0)
