"""POSE_KEYPOINT writing and reading, against the layouts written out from REFERENCE.md."""
from __future__ import annotations

import os
import json
import math
import re

import numpy as np
import pytest

from dwpose_core.formats.pose_json import FormatError, from_pose_keypoint, load_json, save_json, to_pose_keypoint
from dwpose_core.types import FramePose, Person

# OpenPose-18 index <- COCO index (neck, index 1, is the shoulder midpoint).
OPENPOSE_FROM_COCO = {0: 0, 2: 6, 3: 8, 4: 10, 5: 5, 6: 7, 7: 9, 8: 12, 9: 14, 10: 16, 11: 11, 12: 13, 13: 15,
                      14: 2, 15: 1, 16: 4, 17: 3}
FACE = range(23, 91)
LEFT_HAND = range(91, 112)
RIGHT_HAND = range(112, 133)
ARRAYS = ("pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d")


def random_person(rng, *, track_id=None, low_scores=True) -> Person:
    kp = rng.uniform(2.0, 630.0, size=(133, 2)).astype(np.float32)
    kp[:, 1] *= 470 / 630
    sc = rng.uniform(0.0, 1.0, size=133).astype(np.float32)
    if low_scores:  # plenty of points just above and below the threshold
        sc[::5] = np.float32(0.31)
        sc[1::7] = np.float32(0.29)
    box = np.array([*kp.min(0), *kp.max(0)], np.float32)
    return Person(kp, sc, box, float(rng.uniform(0.3, 1.0)), track_id)


@pytest.fixture
def frames():
    rng = np.random.default_rng(7)
    return [FramePose(640, 480, [random_person(rng, track_id=4), random_person(rng)]),
            FramePose(640, 480, []),
            FramePose(640, 480, [random_person(rng, track_id=0)])]


def triples(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 3)


def walk_types(obj) -> set:
    if isinstance(obj, dict):
        return {type(k) for k in obj} | set().union(*(walk_types(v) for v in obj.values()))
    if isinstance(obj, list):
        return {list}.union(*(walk_types(v) for v in obj)) if obj else {list}
    return {type(obj)}


# ------------------------------------------------------------------------- schema

def test_frame_and_person_schema(frames):
    data = to_pose_keypoint(frames)
    assert len(data) == 3
    frame = data[0]
    assert set(frame) == {"people", "canvas_width", "canvas_height"}
    assert (frame["canvas_width"], frame["canvas_height"]) == (640, 480)
    assert data[1]["people"] == []
    lengths = {k: len(v) for k, v in frame["people"][0].items() if isinstance(v, list)}
    assert lengths == {"pose_keypoints_2d": 54, "foot_keypoints_2d": 18, "face_keypoints_2d": 210,
                       "hand_left_keypoints_2d": 63, "hand_right_keypoints_2d": 63, "wholebody_keypoints_2d": 399,
                       "box_2d": 5, "parts": 4}
    assert frame["people"][0]["parts"] == ["body", "hands", "face", "feet"]
    assert frame["people"][0]["track_id"] == 4
    assert "track_id" not in frame["people"][1]


def test_only_plain_python_types_json_safe(frames):
    data = to_pose_keypoint(frames)
    assert walk_types(data) <= {dict, list, str, float, int, type(None)}
    assert json.loads(json.dumps(data, allow_nan=False)) == data


def test_present_points_have_c_one_and_missing_points_are_zero(frames):
    p = frames[0].people[0]
    person = to_pose_keypoint(frames, threshold=0.3)[0]["people"][0]
    for key, indices in (("hand_left_keypoints_2d", LEFT_HAND), ("hand_right_keypoints_2d", RIGHT_HAND),
                         ("face_keypoints_2d", FACE)):
        arr = triples(person[key])
        for row, coco in enumerate(indices):
            if p.scores[coco] >= 0.3:
                assert arr[row].tolist() == [float(p.keypoints[coco, 0]), float(p.keypoints[coco, 1]), 1.0]
            else:
                assert arr[row].tolist() == [0.0, 0.0, 0.0]


def test_openpose18_mapping_and_neck(frames):
    p = frames[0].people[0]
    for shoulders, neck_expected in (((0.9, 0.9), True), ((0.9, 0.2), False), ((0.1, 0.9), False)):
        p.scores[5], p.scores[6] = shoulders
        pose = triples(to_pose_keypoint([FramePose(640, 480, [p])])[0]["people"][0]["pose_keypoints_2d"])
        for op, coco in OPENPOSE_FROM_COCO.items():
            present = p.scores[coco] >= 0.3
            want = [float(p.keypoints[coco, 0]), float(p.keypoints[coco, 1]), 1.0] if present else [0.0] * 3
            assert pose[op].tolist() == want, op
        if neck_expected:
            mid = (p.keypoints[5].astype(np.float64) + p.keypoints[6]) / 2
            assert pose[1] == pytest.approx([mid[0], mid[1], 1.0])
        else:
            assert pose[1].tolist() == [0.0, 0.0, 0.0]


def test_face_has_70_points_with_pupils_right_then_left(frames):
    p = frames[0].people[0]
    p.scores[[1, 2]] = 0.95
    face = triples(to_pose_keypoint([FramePose(640, 480, [p])])[0]["people"][0]["face_keypoints_2d"])
    assert face.shape == (70, 3)
    assert face[68].tolist() == [float(p.keypoints[2, 0]), float(p.keypoints[2, 1]), 1.0]  # right eye
    assert face[69].tolist() == [float(p.keypoints[1, 0]), float(p.keypoints[1, 1]), 1.0]  # left eye


@pytest.mark.parametrize("part, key, indices", [
    ("body", "pose_keypoints_2d", range(0, 17)),
    ("face", "face_keypoints_2d", FACE),
    ("hands", "hand_left_keypoints_2d", list(LEFT_HAND) + list(RIGHT_HAND)),
])
def test_disabled_parts_are_zeros_never_null_and_left_out_of_parts(frames, part, key, indices):
    person = to_pose_keypoint(frames, **{part: False})[0]["people"][0]
    assert person[key] == [0.0] * len(person[key]) and len(person[key]) in (54, 210, 63)
    if part == "hands":
        assert person["hand_right_keypoints_2d"] == [0.0] * 63
    assert person["parts"] == [p for p in ("body", "hands", "face", "feet") if p != part]
    wb = triples(person["wholebody_keypoints_2d"])
    assert not wb[list(indices)].any()
    others = sorted(set(range(133)) - set(indices))
    assert wb[others].any()
    back = from_pose_keypoint(json.dumps(to_pose_keypoint(frames, **{part: False})))[0].people[0]
    assert not back.scores[list(indices)].any()


def test_feet_toggle_only_touches_the_feet(frames):
    on = to_pose_keypoint(frames)[0]["people"][0]
    off = to_pose_keypoint(frames, feet=False)[0]["people"][0]
    assert not triples(off["wholebody_keypoints_2d"])[17:23].any()
    assert off["foot_keypoints_2d"] == [0.0] * 18 and off["parts"] == ["body", "hands", "face"]
    assert triples(on["foot_keypoints_2d"])[:, 2].tolist() == \
        [1.0 if s >= 0.3 else 0.0 for s in frames[0].people[0].scores[17:23]]
    assert triples(on["wholebody_keypoints_2d"])[17:23, 2].tolist() == \
        [float(s) for s in frames[0].people[0].scores[17:23]]
    assert all(on[k] == off[k] for k in ARRAYS)


# ------------------------------------------------------------------------- round trips

def test_json_round_trip_restores_all_133_points_and_real_scores(frames):
    text = json.dumps(to_pose_keypoint(frames))
    back = from_pose_keypoint(text)
    assert [(f.width, f.height, len(f.people)) for f in back] == [(640, 480, 2), (640, 480, 0), (640, 480, 1)]
    for f_in, f_out in zip(frames, back):
        for a, b in zip(f_in.people, f_out.people):
            assert np.array_equal(a.keypoints, b.keypoints)
            assert np.array_equal(a.scores, b.scores)
            assert np.array_equal(a.box, b.box)
            assert a.box_score == b.box_score
            assert a.track_id == b.track_id


def test_accepts_list_dict_text_and_bytes(frames):
    data = to_pose_keypoint(frames[:1])
    for given in (data, data[0], json.dumps(data), json.dumps(data[0]), json.dumps(data).encode("utf-8")):
        back = from_pose_keypoint(given)
        assert len(back) == 1 and np.array_equal(back[0].people[1].keypoints, frames[0].people[1].keypoints)


def test_save_and_load_json_with_non_ascii_path(frames, tmp_path):
    path = tmp_path / "pösé 姿勢" / "clip.json"
    save_json(path, to_pose_keypoint(frames))
    loaded = load_json(path)
    assert loaded == json.loads(json.dumps(to_pose_keypoint(frames)))
    assert np.array_equal(from_pose_keypoint(loaded)[2].people[0].scores, frames[2].people[0].scores)
    assert [p.name for p in path.parent.iterdir()] == ["clip.json"]  # no temporary file left


def test_load_json_names_the_file_on_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"people": [], "canvas_width": 10}]', encoding="utf-8")
    with pytest.raises(FormatError, match=r"bad\.json: frame 0: canvas_height is missing"):
        load_json(path)


# ------------------------------------------------------------------------- downstream decoders

def common_decoder(frame: dict) -> dict:
    """A decoder modelled on comfyui_controlnet_aux's: a point exists iff c >= 1.0; a part is
    normalised iff all its points lie in [0, 1] (then scaled by the canvas)."""
    w, h = frame["canvas_width"], frame["canvas_height"]
    people = []
    for person in frame.get("people", []):
        decoded = {}
        for key in ARRAYS:
            numbers = person.get(key)
            if not numbers:
                decoded[key] = None
                continue
            assert len(numbers) % 3 == 0
            points = [(x, y) if c >= 1.0 else None for x, y, c in
                      (numbers[i:i + 3] for i in range(0, len(numbers), 3))]
            present = [p for p in points if p is not None]
            if present and all(0 <= abs(x) <= 1 and 0 <= abs(y) <= 1 for x, y in present):
                points = [(p[0] * w, p[1] * h) if p is not None else None for p in points]
            decoded[key] = points
        people.append(decoded)
    return {"people": people, "width": w, "height": h}


def test_a_decoder_that_drops_c_below_one_sees_every_present_point(frames):
    data = json.loads(json.dumps(to_pose_keypoint(frames)))
    p = frames[0].people[0]
    decoded = common_decoder(data[0])["people"][0]
    for key, indices in (("hand_left_keypoints_2d", LEFT_HAND), ("hand_right_keypoints_2d", RIGHT_HAND),
                         ("face_keypoints_2d", FACE)):
        for row, coco in enumerate(indices):
            seen = decoded[key][row]
            if p.scores[coco] >= 0.3:
                assert seen == (float(p.keypoints[coco, 0]), float(p.keypoints[coco, 1])), (key, row)
            else:
                assert seen is None
    for op, coco in OPENPOSE_FROM_COCO.items():
        seen = decoded["pose_keypoints_2d"][op]
        assert (seen is not None) == bool(p.scores[coco] >= 0.3)
        if seen is not None:
            assert seen == (float(p.keypoints[coco, 0]), float(p.keypoints[coco, 1]))
    n_present = int((p.scores[list(FACE) + list(LEFT_HAND) + list(RIGHT_HAND)] >= 0.3).sum())
    n_seen = sum(pt is not None for k in ARRAYS[1:] for pt in decoded[k][:68 if k == ARRAYS[1] else 21])
    assert n_seen == n_present


# ------------------------------------------------------------------------- other inputs

def strip_lossless(data: list[dict]) -> list[dict]:
    return [{**f, "people": [{k: v for k, v in p.items() if k in ARRAYS} for p in f["people"]]} for f in data]


def test_plain_openpose_arrays_map_back_to_coco(frames):
    back = from_pose_keypoint(strip_lossless(to_pose_keypoint(frames)))[0].people[0]
    p = frames[0].people[0]
    carried = [c for c in OPENPOSE_FROM_COCO.values()] + list(FACE) + list(LEFT_HAND) + list(RIGHT_HAND)
    for coco in carried:
        if p.scores[coco] >= 0.3:
            assert back.scores[coco] == 1.0
            assert np.array_equal(back.keypoints[coco], p.keypoints[coco])
        else:
            assert back.scores[coco] == 0.0
    assert not back.scores[17:23].any()  # feet travel only in the lossless field
    present = p.keypoints[np.array(carried)[p.scores[carried] >= 0.3]]
    assert np.allclose(back.box, [*present.min(0), *present.max(0)])


def test_normalised_coordinates_are_scaled_by_the_canvas():
    pose = [0.0] * 54
    pose[0:3] = [0.25, 0.5, 1.0]  # nose
    pose[15 * 3:15 * 3 + 3] = [1.0, 0.0, 0.8]  # left eye (COCO 1), real score kept
    hand = [0.0] * 63
    hand[0:3] = [0.5, 0.75, 1.0]
    frame = {"people": [{"pose_keypoints_2d": pose, "hand_right_keypoints_2d": hand}],
             "canvas_width": 800, "canvas_height": 600}
    p = from_pose_keypoint(frame)[0].people[0]
    assert p.keypoints[0].tolist() == [200.0, 300.0] and p.scores[0] == 1.0
    assert p.keypoints[1].tolist() == [800.0, 0.0] and p.scores[1] == pytest.approx(0.8)
    assert p.keypoints[112].tolist() == [400.0, 450.0]


def test_pixel_coordinates_are_not_rescaled():
    pose = [0.0] * 54
    pose[0:3] = [0.5, 0.5, 1.0]
    pose[3 * 3:3 * 3 + 3] = [120.0, 40.0, 1.0]  # right elbow (COCO 8)
    p = from_pose_keypoint({"people": [{"pose_keypoints_2d": pose}], "canvas_width": 800,
                            "canvas_height": 600})[0].people[0]
    assert p.keypoints[0].tolist() == [0.5, 0.5] and p.keypoints[8].tolist() == [120.0, 40.0]


def test_openpose_body25_with_feet():
    # BODY_25 index -> COCO-WholeBody index, from the OpenPose output documentation.
    body25 = {0: 0, 2: 6, 3: 8, 4: 10, 5: 5, 6: 7, 7: 9, 9: 12, 10: 14, 11: 16, 12: 11, 13: 13, 14: 15,
              15: 2, 16: 1, 17: 4, 18: 3, 19: 17, 20: 18, 21: 19, 22: 20, 23: 21, 24: 22}
    pose = []
    for i in range(25):
        pose += [10.0 + i, 100.0 + 2 * i, 0.5 + i / 100]
    p = from_pose_keypoint({"people": [{"pose_keypoints_2d": pose}], "canvas_width": 640,
                            "canvas_height": 480})[0].people[0]
    for i, coco in body25.items():
        assert p.keypoints[coco].tolist() == [10.0 + i, 100.0 + 2 * i]
        assert p.scores[coco] == pytest.approx(0.5 + i / 100)
    assert np.count_nonzero(p.scores) == 23  # neck and mid-hip have no COCO point


def test_68_point_face_and_70_point_face_give_the_same_landmarks():
    face = [v for k in range(68) for v in (5.0 + k, 7.0 + k, 1.0)]
    a = from_pose_keypoint({"people": [{"face_keypoints_2d": face}], "canvas_width": 99, "canvas_height": 99})
    b = from_pose_keypoint({"people": [{"face_keypoints_2d": face + [1, 2, 1.0, 3, 4, 1.0]}],
                            "canvas_width": 99, "canvas_height": 99})
    assert np.array_equal(a[0].people[0].keypoints, b[0].people[0].keypoints)
    assert a[0].people[0].keypoints[23 + 67].tolist() == [72.0, 74.0]
    assert not b[0].people[0].scores[:17].any()  # pupils are not read back as eyes


def test_plain_openpose_without_canvas_needs_canvas_size():
    frame = {"version": 1.3, "people": [{"pose_keypoints_2d": [0.0] * 54}]}
    with pytest.raises(FormatError, match="frame 0: canvas_width is missing.*canvas_size"):
        from_pose_keypoint(frame)
    back = from_pose_keypoint(frame, canvas_size=(320, 240))
    assert (back[0].width, back[0].height) == (320, 240)


def test_edited_openpose_array_wins_over_a_stale_lossless_field(frames):
    data = to_pose_keypoint(frames)
    person = data[0]["people"][0]
    hand = person["hand_left_keypoints_2d"]
    row = next(r for r in range(21) if hand[3 * r + 2] == 1.0)
    hand[3 * row] += 25.0  # a pose editor moved one point
    back = from_pose_keypoint(data)[0].people[0]
    p = frames[0].people[0]
    assert back.keypoints[91 + row, 0] == pytest.approx(p.keypoints[91 + row, 0] + 25.0)
    assert back.scores[91 + row] == 1.0
    # Untouched parts keep their exact lossless values.
    assert np.array_equal(back.scores[112:], p.scores[112:])
    assert np.array_equal(back.keypoints[:91], p.keypoints[:91])


# ------------------------------------------------------------------------- errors

def minimal(**person) -> dict:
    return {"people": [{"pose_keypoints_2d": [0.0] * 54}, person], "canvas_width": 64, "canvas_height": 64}


@pytest.mark.parametrize("data, message", [
    (minimal(hand_left_keypoints_2d=[0.0] * 60),
     re.escape("frame 0: people[1].hand_left_keypoints_2d has 60 numbers; expected 63 (21 points x 3)")),
    (minimal(pose_keypoints_2d=[0.0] * 57), re.escape("frame 0: people[1].pose_keypoints_2d has 57 numbers; expected 54")),
    (minimal(face_keypoints_2d=[0.0] * 9), re.escape("people[1].face_keypoints_2d has 9 numbers; expected 210")),
    (minimal(wholebody_keypoints_2d=[0.0] * 396), re.escape("people[1].wholebody_keypoints_2d has 396 numbers; expected 399")),
    (minimal(box_2d=[1, 2, 3]), r"people\[1\].box_2d has 3 numbers; expected 5"),
    (minimal(hand_right_keypoints_2d=[0.0] * 62 + ["x"]), r"people\[1\].hand_right_keypoints_2d\[62\] is 'x'"),
    (minimal(hand_right_keypoints_2d=[0.0] * 62 + [True]), r"hand_right_keypoints_2d\[62\] is True"),
    (minimal(hand_right_keypoints_2d=[0.0] * 62 + [float("nan")]), r"\[62\] is nan; expected a finite number"),
    (minimal(face_keypoints_2d="1,2,3"), r"people\[1\].face_keypoints_2d is a str"),
    (minimal(track_id=1.5), r"people\[1\].track_id is 1.5"),
    ({"people": {}, "canvas_width": 1, "canvas_height": 1}, "frame 0: people is a dict"),
    ({"canvas_width": 1, "canvas_height": 1}, "frame 0: people is missing"),
    ({"people": [], "canvas_width": -5, "canvas_height": 1}, "frame 0: canvas_width is -5"),
    ({"people": [], "canvas_width": 5, "canvas_height": "9"}, "frame 0: canvas_height is '9'"),
    ({"people": [3], "canvas_width": 5, "canvas_height": 5}, r"frame 0: people\[0\] is a int"),
    ([{"people": [], "canvas_width": 5, "canvas_height": 5}, "frame"], "frame 1 is a str"),
    ('{"people": [], "canvas_width": 5,', "not valid JSON: .* line 1 column"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (42, "got int"),
])
def test_malformed_input_names_the_field(data, message):
    with pytest.raises(FormatError, match=message):
        from_pose_keypoint(data)


def test_format_error_is_a_value_error():
    assert issubclass(FormatError, ValueError)


def test_non_finite_keypoints_are_written_as_missing():
    kp = np.full((133, 2), 10.0, np.float32)
    kp[0] = (math.nan, 5.0)
    p = Person(kp, np.ones(133), [0, 0, 1, 1], math.inf)
    data = to_pose_keypoint([FramePose(20, 20, [p])])
    person = json.loads(json.dumps(data, allow_nan=False))[0]["people"][0]
    assert person["pose_keypoints_2d"][:3] == [0.0, 0.0, 0.0]
    assert person["wholebody_keypoints_2d"][:3] == [0.0, 0.0, 0.0]
    assert person["box_2d"][4] == 0.0


def test_part_set_to_null_by_an_editor_is_absent_after_reading(frames):
    data = to_pose_keypoint(frames)
    data[0]["people"][0]["face_keypoints_2d"] = None
    back = from_pose_keypoint(data)[0].people[0]
    assert not back.scores[23:91].any()
    assert np.array_equal(back.scores[91:], frames[0].people[0].scores[91:])


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_saved_json_follows_the_umask_like_any_written_file(frames, tmp_path):
    old = os.umask(0o022)
    try:
        path = save_json(tmp_path / "perm.json", to_pose_keypoint(frames))
        assert (path.stat().st_mode & 0o777) == 0o644
    finally:
        os.umask(old)
