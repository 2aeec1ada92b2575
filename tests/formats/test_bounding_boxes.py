"""BOUNDING_BOX (ComfyUI core: per frame a list of {x, y, width, height}) <-> [x1, y1, x2, y2] arrays."""
from __future__ import annotations

import numpy as np
import pytest

from dwpose_core.formats.boxes import BoundingBoxError, from_bounding_box, person_boxes, to_bounding_box
from dwpose_core.types import FramePose, Person


def test_frames_of_boxes_become_corner_arrays():
    value = [[{"x": 10, "y": 20, "width": 30, "height": 40}], [],
             [{"x": 0, "y": 0, "width": 5, "height": 6}, {"x": 100, "y": 50, "width": 20, "height": 10}]]
    out = from_bounding_box(value)
    assert [a.shape for a in out] == [(1, 4), (0, 4), (2, 4)]
    assert out[0].tolist() == [[10, 20, 40, 60]]
    assert out[2].tolist() == [[0, 0, 5, 6], [100, 50, 120, 60]]
    assert all(a.dtype == np.float32 for a in out)


def test_round_trip_keeps_whole_pixel_boxes():
    value = [[{"x": 3, "y": 4, "width": 50, "height": 60}], [{"x": 7, "y": 8, "width": 9, "height": 10}]]
    assert to_bounding_box(from_bounding_box(value)) == value


def test_writing_rounds_corners_to_the_nearest_pixel():
    out = to_bounding_box([np.array([[10.4, 20.5, 40.6, 60.2]])])
    assert out == [[{"x": 10, "y": 21, "width": 31, "height": 39}]]
    assert all(isinstance(v, int) for v in out[0][0].values())


def test_a_single_box_or_flat_list_is_one_frame_and_can_serve_every_frame():
    one = {"x": 1, "y": 2, "width": 3, "height": 4}
    assert len(from_bounding_box(one)) == 1
    assert len(from_bounding_box([one, one])[0]) == 2
    spread = from_bounding_box(one, n_frames=5)
    assert len(spread) == 5 and all(a.tolist() == [[1, 2, 4, 6]] for a in spread)


def test_frame_count_must_match_the_images():
    with pytest.raises(BoundingBoxError, match="2 frames of boxes for 3 images"):
        from_bounding_box([[], []], n_frames=3)


@pytest.mark.parametrize("value, message", [
    (None, "no BOUNDING_BOX"),
    ("boxes", "must be a list of frames"),
    ([[{"x": 1, "y": 2, "width": 3}]], "frame 0, box 0: missing 'height'"),
    ([[], [{"x": 1, "y": 2, "width": 0, "height": 4}]], "frame 1, box 0: width and height must be > 0"),
    ([[{"x": "a", "y": 2, "width": 3, "height": 4}]], "'x' must be a finite number"),
    ([[{"x": float("nan"), "y": 2, "width": 3, "height": 4}]], "'x' must be a finite number"),
    ([[{"x": True, "y": 2, "width": 3, "height": 4}]], "'x' must be a finite number"),
    ([[[1, 2, 3, 4]]], "expected a dict"),
    ([5], "frame 0: expected a list of boxes"),
])
def test_bad_values_are_clear_errors(value, message):
    with pytest.raises(BoundingBoxError, match=message):
        from_bounding_box(value)


def test_boxes_are_clipped_to_the_image_and_outside_ones_refused():
    out = from_bounding_box([[{"x": -10, "y": 5, "width": 50, "height": 500}]], image_size=(100, 80))
    assert out[0].tolist() == [[0, 5, 40, 80]]
    with pytest.raises(BoundingBoxError, match="outside the 100x80 image"):
        from_bounding_box([[{"x": 200, "y": 5, "width": 50, "height": 50}]], image_size=(100, 80))


def test_numpy_scalars_are_numbers():
    out = from_bounding_box([[{"x": np.int64(1), "y": np.float32(2), "width": np.int32(3), "height": 4}]])
    assert out[0].tolist() == [[1, 2, 4, 6]]


def test_person_boxes_per_frame():
    kp, sc = np.zeros((133, 2)), np.zeros(133)
    frames = [FramePose(10, 10, [Person(kp, sc, [1, 2, 3, 4]), Person(kp, sc, [5, 6, 7, 8])]), FramePose(10, 10)]
    out = person_boxes(frames)
    assert out[0].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]] and out[1].shape == (0, 4)
    assert to_bounding_box(out) == [[{"x": 1, "y": 2, "width": 2, "height": 2},
                                     {"x": 5, "y": 6, "width": 2, "height": 2}], []]
