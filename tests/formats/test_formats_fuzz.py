"""Bounded fuzz test of the JSON reader: any input gives FramePose frames or a FormatError.

Fixed seed and example counts (CI time stays small). Inputs: arbitrary JSON values, valid
frames with one field replaced by an arbitrary value, and mangled JSON text.
"""
from __future__ import annotations

import json

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, seed, settings, strategies as st  # noqa: E402

from dwpose_core.formats.pose_json import FormatError, from_pose_keypoint, to_pose_keypoint  # noqa: E402
from dwpose_core.types import FramePose  # noqa: E402

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 400), max_value=10 ** 400),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(
    st.sampled_from(["people", "canvas_width", "canvas_height", "pose_keypoints_2d", "face_keypoints_2d",
                     "hand_left_keypoints_2d", "foot_keypoints_2d", "wholebody_keypoints_2d", "box_2d", "parts",
                     "track_id", "x"]), inner, max_size=6), max_leaves=30)

FIELDS = ["pose_keypoints_2d", "foot_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d",
          "hand_right_keypoints_2d", "wholebody_keypoints_2d", "box_2d", "parts", "track_id"]


def valid_frame() -> dict:
    import numpy as np

    from dwpose_core.types import Person

    p = Person(np.full((133, 2), 20.0), np.full(133, 0.9), [0, 0, 40, 40], 0.9, 3)
    return to_pose_keypoint([FramePose(64, 64, [p])])[0]


def read(data) -> None:
    try:
        frames = from_pose_keypoint(data)
    except FormatError:
        return
    assert all(isinstance(f, FramePose) for f in frames)


@seed(20261201)
@SETTINGS
@given(values)
def test_arbitrary_values(value):
    read(value)


@seed(20261202)
@SETTINGS
@given(st.sampled_from(FIELDS), values)
def test_a_valid_frame_with_one_field_replaced(field, value):
    frame = valid_frame()
    frame["people"][0][field] = value
    read(frame)


@seed(20261203)
@SETTINGS
@given(st.integers(min_value=0, max_value=10_000), st.text(max_size=12))
def test_mangled_text(position, insert):
    text = json.dumps([valid_frame()])
    position %= len(text)
    read(text[:position] + insert + text[position + len(insert):])
