"""Hostile POSE_KEYPOINT and oversized pictures: bounded work, a FormatError naming the field."""
from __future__ import annotations

import json
import time

import pytest

from dwpose_core.formats.pose_json import MAX_PEOPLE_PER_FRAME, FormatError, from_pose_keypoint
from dwpose_core.render.draw import MAX_PIXELS, MAX_SIDE, OutputSizeError, draw_pose, output_size
from dwpose_core.types import FramePose

POSE = "pose_keypoints_2d"


def frame_text(people: str) -> str:
    return '{"canvas_width": 64, "canvas_height": 64, "people": [' + people + "]}"


def test_a_million_people_is_refused_in_seconds():
    text = frame_text(",".join(["{}"] * 1_000_000))
    start = time.perf_counter()
    with pytest.raises(FormatError, match=f"at most {MAX_PEOPLE_PER_FRAME} people"):
        from_pose_keypoint(text)
    assert time.perf_counter() - start < 5.0


def test_many_people_within_the_limit_are_read_quickly():
    person = json.dumps({POSE: [10.0, 10.0, 1.0] * 18})
    start = time.perf_counter()
    (frame,) = from_pose_keypoint(frame_text(",".join([person] * 5000)))
    assert len(frame.people) == 5000 and time.perf_counter() - start < 5.0


@pytest.mark.parametrize("number", ["1" + "0" * 400, "-" + "9" * 400, "1" + "0" * 5000])
def test_integers_too_large_for_a_float_name_the_field(number):
    text = frame_text('{"%s": [1, 2, 1, %s, %s]}' % (POSE, number, ", ".join(["0"] * 50)))
    with pytest.raises(FormatError, match=r"people\[0\]\.pose_keypoints_2d\[3\]") as info:
        from_pose_keypoint(text)
    assert type(info.value) is FormatError


def test_huge_python_integers_name_the_field():
    data = {"canvas_width": 64, "canvas_height": 64, "people": [{POSE: [10 ** 400] + [0] * 53}]}
    with pytest.raises(FormatError, match=r"pose_keypoints_2d\[0\]"):
        from_pose_keypoint(data)
    with pytest.raises(FormatError, match="canvas_width"):
        from_pose_keypoint({"canvas_width": 10 ** 400, "canvas_height": 5, "people": []})
    with pytest.raises(FormatError, match="canvas_height"):
        from_pose_keypoint('{"canvas_width": 5, "canvas_height": 1%s, "people": []}' % ("0" * 5000))
    with pytest.raises(FormatError, match="track_id"):
        from_pose_keypoint({"canvas_width": 5, "canvas_height": 5, "people": [{"track_id": 10 ** 400}]})


def test_nesting_too_deep_for_the_parser_is_a_format_error_with_its_path():
    deep = "[" * 200_000 + "]" * 200_000
    with pytest.raises(FormatError, match="nests deeper"):
        from_pose_keypoint(deep)
    with pytest.raises(FormatError, match=r"people\[0\]\.pose_keypoints_2d"):
        from_pose_keypoint(frame_text('{"%s": %s}' % (POSE, deep)))


def test_nesting_inside_a_field_names_the_field():
    with pytest.raises(FormatError, match=r"pose_keypoints_2d\[0\] is a list"):
        from_pose_keypoint(frame_text('{"%s": [%s]}' % (POSE, ", ".join(["[[1]]"] * 54))))


def test_draw_pose_refuses_sizes_over_the_limit():
    # A 1x700 canvas at resolution 512 would be 512 x 358400.
    with pytest.raises(OutputSizeError, match="512x358400"):
        draw_pose(FramePose(1, 700, []), resolution=512)
    with pytest.raises(OutputSizeError, match="16384"):
        output_size(1, 700, 512)
    with pytest.raises(OutputSizeError):
        draw_pose(FramePose(100, 100, []), size=(100_000, 100_000))
    with pytest.raises(OutputSizeError, match="megapixels"):
        draw_pose(FramePose(100, 100, []), size=(MAX_SIDE, MAX_PIXELS // MAX_SIDE + 1))
    assert issubclass(OutputSizeError, ValueError)
    assert draw_pose(FramePose(100, 100, []), size=(MAX_SIDE, 8)).shape == (8, MAX_SIDE, 3)


def test_a_profile_drawing_canvas_is_bounded_too():
    # steadydancer draws at 2x: a 10000 x 8000 picture would need a 20000 x 16000 drawing canvas.
    with pytest.raises(OutputSizeError, match="steadydancer"):
        draw_pose(FramePose(100, 100, []), size=(10000, 8000), profile="steadydancer")
