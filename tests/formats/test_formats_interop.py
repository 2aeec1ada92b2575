"""POSE_KEYPOINT that ComfyUI core's pose nodes read, and their output read back.

What core's nodes do to the data is reproduced here from REFERENCE.md ("ComfyUI core's pose
types"): ``SDPoseDrawKeypoints`` reshapes every array of every person
(``np.array(person[key]).reshape(n, 3)``), takes feet from ``foot_keypoints_2d`` (absent field
= no feet) and thresholds each array's c; ``SDPoseKeypointExtractor`` writes real scores in
every array, the neck (shoulder midpoint, scored min of the shoulders when both > 0.3) and
feet = COCO-WholeBody 17-22, with ``hand_right`` = COCO 91-111 and ``hand_left`` = 112-132.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from dwpose_core.formats.pose_json import FormatError, from_pose_keypoint, to_pose_keypoint
from dwpose_core.types import FramePose, Person

CORE_SHAPES = {"pose_keypoints_2d": 18, "face_keypoints_2d": 70, "hand_right_keypoints_2d": 21,
               "hand_left_keypoints_2d": 21}
OP_FROM_COCO = [0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3]


def core_draw_parse(person: dict, threshold: float = 0.3) -> dict:
    """The arrays as core's drawer reads them: reshape (fails on null), feet optional, c >= threshold."""
    out = {}
    for key, n in CORE_SHAPES.items():
        arr = np.array(person[key], dtype=np.float32).reshape(n, 3)
        out[key] = arr
    foot = person.get("foot_keypoints_2d")
    out["foot"] = np.array(foot, dtype=np.float32).reshape(6, 3) if foot else np.zeros((6, 3), np.float32)
    out["drawn"] = {k: v[:, 2] >= threshold for k, v in out.items()}
    return out


def random_person(rng) -> Person:
    kp = rng.uniform(5, 600, (133, 2)).astype(np.float32)
    sc = rng.uniform(0.0, 1.0, 133).astype(np.float32)
    sc[17:23] = 0.8
    return Person(kp, sc, [0, 0, 50, 50], 0.9)


@pytest.mark.parametrize("off", [{}, {"body": False}, {"hands": False}, {"face": False}, {"feet": False},
                                 {"body": False, "hands": False, "face": False, "feet": False}])
def test_core_drawer_reads_every_person_with_any_part_disabled(off):
    rng = np.random.default_rng(3)
    data = json.loads(json.dumps(to_pose_keypoint([FramePose(640, 640, [random_person(rng)])], **off)))
    (person,) = data[0]["people"]
    parsed = core_draw_parse(person)  # would raise on null
    for part, key in (("body", "pose_keypoints_2d"), ("face", "face_keypoints_2d"),
                      ("hands", "hand_left_keypoints_2d"), ("feet", "foot")):
        if off.get(part) is False:
            assert not parsed[key].any()
            assert part not in person["parts"]


def test_core_drawer_shows_our_feet():
    rng = np.random.default_rng(4)
    p = random_person(rng)
    (person,) = to_pose_keypoint([FramePose(640, 640, [p])])[0]["people"]
    foot = core_draw_parse(person)["foot"]
    assert foot[:, 2].tolist() == [1.0] * 6  # same c rule as the other arrays
    np.testing.assert_allclose(foot[:, :2], p.keypoints[17:23], atol=1e-4)  # COCO 17-22 in order


def core_extractor_frame(kp: np.ndarray, sc: np.ndarray, w: int, h: int) -> dict:
    """What SDPoseKeypointExtractor writes for one person (our own code, its rules)."""
    body = np.zeros((18, 3))
    for op, coco in enumerate(OP_FROM_COCO):
        if coco is None:
            both = sc[5] > 0.3 and sc[6] > 0.3
            body[op] = [*((kp[5] + kp[6]) / 2), min(sc[5], sc[6]) if both else 0.0]
        else:
            body[op] = [*kp[coco], sc[coco]]

    def rows(idx):
        return np.concatenate([kp[idx], sc[idx, None]], axis=1)

    face = np.concatenate([rows(np.arange(23, 91)), body[[14, 15]]])
    person = {"pose_keypoints_2d": body.ravel().tolist(), "foot_keypoints_2d": rows(np.arange(17, 23)).ravel().tolist(),
              "face_keypoints_2d": face.ravel().tolist(),
              "hand_right_keypoints_2d": rows(np.arange(91, 112)).ravel().tolist(),
              "hand_left_keypoints_2d": rows(np.arange(112, 133)).ravel().tolist()}
    return {"canvas_width": w, "canvas_height": h, "people": [person]}


def test_core_extractor_output_is_read_with_feet_and_real_scores():
    rng = np.random.default_rng(5)
    kp = rng.uniform(3, 700, (133, 2))
    sc = rng.uniform(0.05, 1.0, 133)  # c in (0, 1]
    frame = core_extractor_frame(kp, sc, 720, 720)
    (p,) = from_pose_keypoint(json.dumps([frame]))[0].people
    body = list(range(17))
    np.testing.assert_allclose(p.scores[body], sc[body], atol=1e-6)
    np.testing.assert_allclose(p.keypoints[body], kp[body], atol=1e-3)
    np.testing.assert_allclose(p.scores[17:23], sc[17:23], atol=1e-6)  # feet kept
    np.testing.assert_allclose(p.keypoints[17:23], kp[17:23], atol=1e-3)
    np.testing.assert_allclose(p.scores[23:91], sc[23:91], atol=1e-6)
    # Hands by their names: core's hand_right holds COCO 91-111, read as our right hand.
    np.testing.assert_allclose(p.scores[112:133], sc[91:112], atol=1e-6)
    np.testing.assert_allclose(p.keypoints[91:112], kp[112:133], atol=1e-3)
    assert p.parts == ("body", "hands", "face", "feet")
    # Written back: present (c >= 0.3) points carry c = 1.0, the real scores stay in the lossless field.
    (out,) = to_pose_keypoint([FramePose(720, 720, [p])])[0]["people"]
    foot = np.array(out["foot_keypoints_2d"]).reshape(6, 3)
    assert foot[:, 2].tolist() == [1.0 if s >= 0.3 else 0.0 for s in sc[17:23]]


def test_pupils_only_with_at_least_one_landmark():
    kp = np.tile([[100.0, 100.0]], (133, 1)) + np.arange(133)[:, None]
    sc = np.zeros(133)
    sc[[1, 2]] = 0.9  # both eyes present
    for landmarks, pupils in ((0, False), (1, True)):
        s = sc.copy()
        s[23:23 + landmarks] = 0.9
        (person,) = to_pose_keypoint([FramePose(400, 400, [Person(kp, s, [0, 0, 1, 1])])])[0]["people"]
        face = np.array(person["face_keypoints_2d"]).reshape(70, 3)
        assert (face[68:, 2] == 1.0).all() == pupils and (face[68:] == 0).all() != pupils
        assert (face[:68, 2] == 1.0).sum() == landmarks


def test_reader_accepts_null_and_missing_arrays_and_keeps_null_parts_off():
    frame = {"canvas_width": 100, "canvas_height": 100, "people": [
        {"pose_keypoints_2d": [10, 10, 1.0] + [0] * 51, "face_keypoints_2d": None,
         "hand_left_keypoints_2d": None, "hand_right_keypoints_2d": None},
        {"pose_keypoints_2d": [20, 20, 1.0] + [0] * 51}]}
    a, b = from_pose_keypoint(frame)[0].people
    assert a.parts == ("body", "feet") and b.parts == ("body", "hands", "face", "feet")
    (out, _) = to_pose_keypoint(from_pose_keypoint(frame))[0]["people"]
    assert out["face_keypoints_2d"] == [0.0] * 210 and out["parts"] == ["body", "feet"]


def test_parts_field_round_trip_and_errors():
    p = Person(np.ones((133, 2)) * 5, np.ones(133), [0, 0, 1, 1], parts=("body", "face"))
    data = to_pose_keypoint([FramePose(10, 10, [p])])
    assert data[0]["people"][0]["parts"] == ["body", "face"]
    assert from_pose_keypoint(data)[0].people[0].parts == ("body", "face")
    for bad in (["body", "tail"], "body", [1]):
        data[0]["people"][0]["parts"] = bad
        with pytest.raises(FormatError, match=r"people\[0\]\.parts"):
            from_pose_keypoint(data)
