"""The per-person ``refined_hands`` field (hand-refinement pass): written, read back, lossless, ignored
by readers that do not know it, refused when malformed."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dwpose_core.formats.json_text import FormatError
from dwpose_core.formats.pose_json import from_pose_keypoint, to_pose_keypoint
from dwpose_core.types import FramePose, Person


def _person(refined=()):
    rng = np.random.default_rng(3)
    kp = rng.uniform(10, 300, (133, 2)).astype(np.float32)
    sc = rng.uniform(0.5, 1.0, 133).astype(np.float32)
    return Person(kp, sc, np.array([5, 5, 310, 310], np.float32), 0.9, refined_hands=refined)


@pytest.mark.parametrize("refined", [(), ("left",), ("right",), ("left", "right")])
def test_round_trip_is_lossless(refined):
    frame = FramePose(320, 320, [_person(refined)])
    data = json.loads(json.dumps(to_pose_keypoint(frame)))
    person = data[0]["people"][0]
    assert person.get("refined_hands", []) == list(refined)
    assert ("refined_hands" in person) == bool(refined)  # absent when nothing was refined
    (back,) = from_pose_keypoint(data)
    assert back.people[0].refined_hands == refined
    np.testing.assert_array_equal(back.people[0].keypoints, frame.people[0].keypoints)


def test_order_is_canonical_and_duplicates_merge():
    assert Person(np.zeros((133, 2)), np.zeros(133), np.zeros(4),
                  refined_hands=["right", "left", "right"]).refined_hands == ("left", "right")


def test_not_written_when_hands_are_off():
    data = to_pose_keypoint(FramePose(320, 320, [_person(("left",))]), hands=False)
    assert "refined_hands" not in data[0]["people"][0]


def test_other_readers_ignore_it():
    # A reader that knows only the OpenPose arrays (what comfyui_controlnet_aux does) sees the same hands.
    with_field = to_pose_keypoint(FramePose(320, 320, [_person(("left",))]))[0]["people"][0]
    without = to_pose_keypoint(FramePose(320, 320, [_person(())]))[0]["people"][0]
    assert {k: v for k, v in with_field.items() if k != "refined_hands"} == without
    assert all(isinstance(v, list) for v in with_field.values())  # no new kind of value


@pytest.mark.parametrize("bad", ["left", ["middle"], [1], {"left": True}])
def test_malformed_field_is_refused_with_its_path(bad):
    data = to_pose_keypoint(FramePose(320, 320, [_person(())]))
    data[0]["people"][0]["refined_hands"] = bad
    with pytest.raises(FormatError, match="refined_hands"):
        from_pose_keypoint(data)


def test_null_means_none():
    data = to_pose_keypoint(FramePose(320, 320, [_person(())]))
    data[0]["people"][0]["refined_hands"] = None
    assert from_pose_keypoint(data)[0].people[0].refined_hands == ()


def test_copy_keeps_it():
    assert _person(("right",)).copy().refined_hands == ("right",)
