"""Retargeting on synthetic skeletons whose bone lengths and angles are known by construction.

The skeleton generator below builds 133 COCO-WholeBody points (REFERENCE.md layout) from bone
lengths and absolute bone directions; the tree and the ground truth are written here again,
independently of dwpose_core.animate.retarget.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from dwpose_core.formats.pose_json import from_pose_keypoint, to_pose_keypoint
from dwpose_core.animate.retarget import RetargetError, retarget
from dwpose_core.types import FramePose, Person

# child: (parent, length name); "neck" is the shoulder midpoint. Parents come first.
TREE = {
    5: ("neck", "shoulder"), 6: ("neck", "shoulder"),
    7: (5, "upper_arm"), 9: (7, "forearm"), 8: (6, "upper_arm"), 10: (8, "forearm"),
    11: ("neck", "torso"), 12: ("neck", "torso"),
    13: (11, "thigh"), 15: (13, "shin"), 14: (12, "thigh"), 16: (14, "shin"),
    0: ("neck", "neck"), 1: (0, "nose_eye"), 2: (0, "nose_eye"), 3: (1, "eye_ear"), 4: (2, "eye_ear"),
    17: (15, "big_toe"), 18: (15, "small_toe"), 19: (15, "heel"),
    20: (16, "big_toe"), 21: (16, "small_toe"), 22: (16, "heel"),
}
DRIVER = dict(shoulder=40, upper_arm=60, forearm=55, torso=120, thigh=90, shin=85, neck=45, nose_eye=12,
              eye_ear=14, big_toe=24, small_toe=20, heel=9, palm=22, face=40)
# A different character: long legs, short arms, big head, at about 1.5x the driver's size.
REFERENCE = dict(shoulder=50, upper_arm=75, forearm=70, torso=170, thigh=150, shin=140, neck=80, nose_eye=22,
                 eye_ear=25, big_toe=35, small_toe=30, heel=14, palm=30, face=70)
STANDING = {5: 0, 7: 95, 9: 90, 8: 85, 10: 90, 11: 80, 12: 100, 13: 90, 15: 90, 14: 90, 16: 90,
            0: -90, 1: -120, 2: -60, 3: -160, 4: -20, 17: 30, 18: 60, 19: 180, 20: 150, 21: 120, 22: 0}


def unit(deg):
    return np.array([math.cos(math.radians(deg)), math.sin(math.radians(deg))])


def face_template():
    """68 landmarks around the nose, unit face size: outer eye corners (36, 45) 1 apart, brow
    top (27) to chin (8) 1 apart."""
    t = np.stack([0.5 * unit(a) + (0, 0.2) for a in np.linspace(0, 360, 68, endpoint=False)])
    t[36], t[45], t[27], t[8] = (-0.5, -0.2), (0.5, -0.2), (0, -0.3), (0, 0.7)
    return t


def make_person(neck, dirs, lengths, scores=None):
    """Points from the neck position, absolute bone directions (degrees, image axes) and lengths."""
    pts = {"neck": np.asarray(neck, float)}
    dirs = dict(dirs)
    dirs[6] = dirs[5] + 180  # the neck is the shoulders' midpoint
    for child, (parent, name) in TREE.items():
        pts[child] = pts[parent] + lengths[name] * unit(dirs[child])
    kp = np.zeros((133, 2))
    for i in range(23):
        kp[i] = pts[i]
    for wrist, root, elbow in ((9, 91, 7), (10, 112, 8)):
        forearm = dirs[wrist]
        kp[root] = pts[wrist]
        for f in range(5):
            for j, reach in enumerate((1.0, 1.35, 1.6, 1.8)):
                kp[root + 1 + 4 * f + j] = pts[wrist] + lengths["palm"] * reach * unit(forearm + (f - 2) * 15)
    kp[23:91] = pts[0] + lengths["face"] * face_template()
    sc = np.full(133, 0.9) if scores is None else scores
    lo, hi = kp.min(0), kp.max(0)
    return Person(kp, sc, np.concatenate([lo, hi]), 0.9)


def neck_of(kp):
    return (kp[5] + kp[6]) / 2


def point(kp, index):
    return neck_of(kp) if index == "neck" else kp[index]


def bone(kp, child):
    return point(kp, child) - point(kp, TREE[child][0])


def dancing_dirs(t):
    """Planar motion: arms, legs and head swing; every 2D bone keeps its length."""
    d = dict(STANDING)
    d[5] = 10 * math.sin(t / 5)
    d[7] = 95 + 60 * math.sin(t / 4)
    d[9] = 90 + 80 * math.sin(t / 3 + 1)
    d[8] = 85 - 50 * math.sin(t / 6)
    d[10] = 90 - 70 * math.cos(t / 5)
    d[13] = 90 + 20 * math.sin(t / 7)
    d[14] = 90 - 25 * math.sin(t / 8)
    d[15], d[16] = d[13] - 10, d[14] + 10
    d[0] = -90 + 15 * math.sin(t / 9)
    return d


def clip(n=40, lengths=DRIVER, canvas=(1280, 720), dirs=dancing_dirs, mover=lambda t: (600 + 3 * t, 200)):
    return [FramePose(*canvas, [make_person(mover(t), dirs(t), lengths)]) for t in range(n)]


def reference_frame(people=None, canvas=(720, 1280)):
    people = people or [make_person((360, 400), STANDING, REFERENCE)]
    return FramePose(*canvas, people)


def angle_between(u, v):
    cos = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
    return math.degrees(math.acos(np.clip(cos, -1, 1)))


# --------------------------------------------------------------------------------- bone lengths

def test_every_bone_takes_the_reference_length():
    out = retarget(clip(), reference_frame())
    for frame in out:
        kp = frame.people[0].keypoints.astype(float)
        for child, (_parent, name) in TREE.items():
            assert np.linalg.norm(bone(kp, child)) == pytest.approx(REFERENCE[name], abs=1.0), (child, name)


def test_output_is_in_the_reference_canvas():
    out = retarget(clip(), reference_frame(canvas=(720, 1280)))
    assert all((f.width, f.height) == (720, 1280) for f in out)
    assert len(out) == 40 and all(len(f.people) == 1 for f in out)


def test_joint_angles_are_the_driving_frames():
    drive = clip()
    out = retarget(drive, reference_frame())
    joints = [(5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16), (0, 1), (1, 3),
              (5, 11), (0, 5), (15, 17), (16, 22)]
    for src, dst in zip(drive, out):
        a, b = src.people[0].keypoints.astype(float), dst.people[0].keypoints.astype(float)
        for first, second in joints:
            want = angle_between(bone(a, first), bone(a, second))
            got = angle_between(bone(b, first), bone(b, second))
            assert got == pytest.approx(want, abs=0.5), (first, second)


def test_foreshortened_first_frame_does_not_stretch_the_other_frames():
    drive = clip()
    # Frame 0: the left forearm points at the camera: half its length in 2D, hand moved along.
    first = drive[0].people[0]
    kp = first.keypoints.astype(float)
    shift = -0.5 * (kp[9] - kp[7])
    kp[9] += shift
    kp[91:112] += shift
    drive[0].people[0] = Person(kp, first.scores, first.box, first.box_score)
    out = retarget(drive, reference_frame())
    for frame in out[1:]:
        kp_out = frame.people[0].keypoints.astype(float)
        assert np.linalg.norm(kp_out[9] - kp_out[7]) == pytest.approx(REFERENCE["forearm"], abs=1.0)
    kp0 = out[0].people[0].keypoints.astype(float)
    assert np.linalg.norm(kp0[9] - kp0[7]) == pytest.approx(REFERENCE["forearm"] / 2, abs=1.0)


def test_left_and_right_get_one_length():
    # The left forearm is foreshortened to 70% in every frame: it stays 70% of the reference's.
    def shorter_left(t):
        return dancing_dirs(t)

    drive = clip(dirs=shorter_left)
    for frame in drive:
        p = frame.people[0]
        kp = p.keypoints.astype(float)
        shift = -0.3 * (kp[9] - kp[7])
        kp[9] += shift
        kp[91:112] += shift
        frame.people[0] = Person(kp, p.scores, p.box, p.box_score)
    out = retarget(drive, reference_frame())
    for frame in out:
        kp = frame.people[0].keypoints.astype(float)
        assert np.linalg.norm(kp[9] - kp[7]) == pytest.approx(0.7 * REFERENCE["forearm"], abs=1.0)
        assert np.linalg.norm(kp[10] - kp[8]) == pytest.approx(REFERENCE["forearm"], abs=1.0)


def test_hands_and_face_follow_wrist_and_head_at_reference_size():
    out = retarget(clip(), reference_frame())
    for frame in out:
        kp = frame.people[0].keypoints.astype(float)
        for wrist, root in ((9, 91), (10, 112)):
            assert np.allclose(kp[root], kp[wrist], atol=1.0)
            assert np.linalg.norm(kp[root + 9] - kp[root]) == pytest.approx(REFERENCE["palm"], abs=1.0)
        assert np.linalg.norm(kp[23 + 45] - kp[23 + 36]) == pytest.approx(REFERENCE["face"], abs=1.0)
        expected = kp[0] + REFERENCE["face"] * face_template()
        assert np.abs(kp[23:91] - expected).max() < 1.0


def test_ratios_are_clamped_around_the_global_scale():
    giant = dict(REFERENCE, forearm=REFERENCE["forearm"] * 10)
    ref = reference_frame([make_person((360, 400), STANDING, giant)])
    out = retarget(clip(), ref, max_ratio_spread=2.0)
    kp = out[5].people[0].keypoints.astype(float)
    core = [REFERENCE[k] / DRIVER[k] for k in ("shoulder", "upper_arm", "torso", "thigh", "shin")]
    core.append(giant["forearm"] / DRIVER["forearm"])
    g = float(np.median(core))
    assert np.linalg.norm(kp[9] - kp[7]) == pytest.approx(2.0 * g * DRIVER["forearm"], abs=1.0)


# --------------------------------------------------------------------------------- placement

def squat_dirs(t):
    """Symmetric knee bend: thighs out, shins back in; both ankles stay level."""
    d = dict(STANDING)
    bend = 35 * abs(math.sin(t / 6))
    d[13], d[15] = 90 - bend, 90 + bend
    d[14], d[16] = 90 + bend, 90 - bend
    d[11], d[12] = 0, 180
    d[7] = 95 + 40 * math.sin(t / 4)
    return d


def standing_clip(n=40):
    """Feet on the driver's ground y = 650: the body is built from the left ankle upwards."""
    frames = []
    for t in range(n):
        d = squat_dirs(t)
        probe = make_person((0, 0), d, DRIVER).keypoints.astype(float)
        ground_offset = np.array([300.0 + 2 * t, 650.0]) - np.array([probe[15, 0], probe[15:23, 1].max()])
        frames.append(FramePose(1280, 720, [make_person(ground_offset, d, DRIVER)]))
    return frames


def test_a_standing_clip_keeps_its_feet_on_the_reference_ground_line():
    drive = standing_clip()
    assert np.ptp([f.people[0].keypoints[15:23, 1].max() for f in drive]) < 1e-3  # the premise
    ref = reference_frame()
    ground = float(ref.people[0].keypoints[15:23, 1].max())
    out = retarget(drive, ref)
    for frame in out:
        assert float(frame.people[0].keypoints[15:23, 1].max()) == pytest.approx(ground, abs=1.0)
    necks = [neck_of(f.people[0].keypoints.astype(float))[1] for f in out]
    assert np.ptp(necks) > 20  # the squat is kept: the body goes down and up


def test_first_frame_neck_lands_on_the_reference_neck_and_motion_is_scaled():
    drive = clip(dirs=lambda t: STANDING)
    ref = reference_frame()
    out = retarget(drive, ref, ground=False)
    ref_neck = neck_of(ref.people[0].keypoints.astype(float))
    necks = np.array([neck_of(f.people[0].keypoints.astype(float)) for f in out])
    assert np.allclose(necks[0], ref_neck, atol=1e-3)
    step = necks[1:, 0] - necks[:-1, 0]
    core = [REFERENCE[k] / DRIVER[k] for k in ("shoulder", "upper_arm", "forearm", "torso", "thigh", "shin")]
    assert np.allclose(step, 3 * np.median(core), atol=1e-3)  # the driver moves 3 px a frame


# --------------------------------------------------------------------------------- missing data

def test_missing_points_do_not_break_it_and_stay_missing():
    drive = clip(10)
    p = drive[3].people[0]
    sc = p.scores.copy()
    sc[7] = 0.0  # left elbow lost: the wrist hangs from the shoulder
    drive[3].people[0] = Person(p.keypoints, sc, p.box, p.box_score)
    p = drive[5].people[0]
    sc = p.scores.copy()
    sc[[5, 6]] = 0.0  # no shoulders, no neck
    drive[5].people[0] = Person(p.keypoints, sc, p.box, p.box_score)
    out = retarget(drive, reference_frame())
    assert all(np.isfinite(f.people[0].keypoints).all() for f in out)
    assert out[3].people[0].scores[7] == 0.0
    kp = out[3].people[0].keypoints.astype(float)
    arm = REFERENCE["upper_arm"] + REFERENCE["forearm"]
    d_arm = DRIVER["upper_arm"] + DRIVER["forearm"]
    src = drive[3].people[0].keypoints.astype(float)
    assert np.allclose(kp[9] - kp[5], (src[9] - src[5]) * arm / d_arm, atol=1.0)
    # The frame without a neck sits between its neighbours.
    nose = [f.people[0].keypoints[0] for f in out]
    assert np.linalg.norm(nose[5] - (nose[4] + nose[6]) / 2) < 30


def test_reference_without_legs_uses_the_global_scale_for_them():
    person = make_person((360, 400), STANDING, REFERENCE)
    sc = person.scores.copy()
    sc[11:23] = 0.0
    out = retarget(clip(), reference_frame([Person(person.keypoints, sc, person.box)]))
    kp = out[0].people[0].keypoints.astype(float)
    g = np.median([REFERENCE[k] / DRIVER[k] for k in ("shoulder", "upper_arm", "forearm")])
    assert np.linalg.norm(kp[15] - kp[13]) == pytest.approx(g * DRIVER["shin"], abs=1.0)


def test_reference_without_people_is_a_clear_error():
    with pytest.raises(RetargetError, match="no person"):
        retarget(clip(3), FramePose(100, 100, []))


def test_frames_without_people_stay_empty():
    drive = clip(5)
    drive[2].people = []
    out = retarget(drive, reference_frame())
    assert [len(f.people) for f in out] == [1, 1, 0, 1, 1]


# --------------------------------------------------------------------------------- several people

def two_people_clip(n=20):
    small = {k: v * 0.8 for k, v in DRIVER.items()}
    frames = []
    for t in range(n):
        a = make_person((300, 200), dancing_dirs(t), DRIVER)
        b = make_person((900, 220), dancing_dirs(t + 7), small)
        a.track_id, b.track_id = 0, 1
        frames.append(FramePose(1280, 720, [a, b]))
    return frames


def test_each_track_gets_its_own_reference_person():
    other = {k: v * 0.6 for k, v in REFERENCE.items()}
    ref = reference_frame([make_person((200, 400), STANDING, REFERENCE), make_person((520, 420), STANDING, other)])
    out = retarget(two_people_clip(), ref)
    for frame in out:
        by_id = {p.track_id: p.keypoints.astype(float) for p in frame.people}
        assert np.linalg.norm(by_id[0][9] - by_id[0][7]) == pytest.approx(REFERENCE["forearm"], abs=1.0)
        assert np.linalg.norm(by_id[1][9] - by_id[1][7]) == pytest.approx(other["forearm"], abs=1.0)
        assert np.linalg.norm(by_id[1][13] - by_id[1][11]) == pytest.approx(other["thigh"], abs=1.0)


def test_same_reference_for_every_track_keeps_them_apart():
    out = retarget(two_people_clip(), reference_frame(), reference_people="same")
    for frame in out:
        by_id = {p.track_id: p.keypoints.astype(float) for p in frame.people}
        for kp in by_id.values():
            assert np.linalg.norm(kp[9] - kp[7]) == pytest.approx(REFERENCE["forearm"], abs=1.0)
        assert neck_of(by_id[1])[0] - neck_of(by_id[0])[0] > 300


def test_round_trip_through_pose_keypoint():
    out = retarget(from_pose_keypoint(to_pose_keypoint(clip(5))), from_pose_keypoint(to_pose_keypoint(reference_frame())))
    kp = out[0].people[0].keypoints.astype(float)
    assert np.linalg.norm(kp[9] - kp[7]) == pytest.approx(REFERENCE["forearm"], abs=1.0)


def test_disabled_parts_stay_disabled():
    drive = clip(3)
    for frame in drive:
        frame.people[0].parts = ("body", "feet")
    out = retarget(drive, reference_frame())
    assert all(f.people[0].parts == ("body", "feet") for f in out)
    person = to_pose_keypoint(out)[0]["people"][0]
    assert not any(person["hand_left_keypoints_2d"]) and any(person["pose_keypoints_2d"])


# --------------------------------------------------------------------------------- command line

def _write(path, frames):
    from dwpose_core.formats.pose_json import save_json

    save_json(path, to_pose_keypoint(frames))
    return path


def test_cli_retargets_a_json_to_a_json_reference(tmp_path):
    import json

    from dwpose_core.cli.retarget import main

    pose = _write(tmp_path / "dance.json", clip(6))
    ref = _write(tmp_path / "ref.json", [reference_frame()])
    assert main([str(pose), "--reference", str(ref), "--out", str(tmp_path / "out.json")]) == 0
    data = json.loads((tmp_path / "out.json").read_text())
    assert len(data) == 6 and (data[0]["canvas_width"], data[0]["canvas_height"]) == (720, 1280)
    kp = np.array(data[2]["people"][0]["wholebody_keypoints_2d"]).reshape(133, 3)[:, :2]
    assert np.linalg.norm(kp[13] - kp[11]) == pytest.approx(REFERENCE["thigh"], abs=1.0)
    # a folder as --out: <stem>_retargeted.json
    assert main([str(pose), "--reference", str(ref), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "dance_retargeted.json").is_file()


def test_cli_with_a_picture_runs_the_estimator(tmp_path):
    from dwpose_core.files.images import write_image
    from dwpose_core.pipeline import WholeBodyEstimator
    from dwpose_core.cli.retarget import main
    from oracles import make_detector, make_pose

    box = (40.0, 20.0, 200.0, 230.0)
    det = make_detector(tmp_path / "det.onnx", [tuple(np.array(box) * 2.0) + (0.9,)])
    pose_model = make_pose(tmp_path / "pose.onnx")
    picture = tmp_path / "ref.png"
    write_image(picture, np.zeros((240, 320, 3), np.uint8))
    pose = _write(tmp_path / "dance.json", clip(4))
    models = ["--det", str(det), "--pose", str(pose_model), "--backend", "onnxruntime"]
    assert main([str(pose), "--reference", str(picture), "--out", str(tmp_path / "o.json"), *models]) == 0
    got = from_pose_keypoint((tmp_path / "o.json").read_text())
    estimator = WholeBodyEstimator(str(det), str(pose_model), backend="onnxruntime")
    reference = estimator([np.zeros((240, 320, 3), np.uint8)])[0]
    want = retarget(clip(4), reference)
    assert (got[0].width, got[0].height) == (320, 240)
    np.testing.assert_allclose(got[3].people[0].keypoints, want[3].people[0].keypoints, atol=1e-3)


@pytest.mark.parametrize("args, code, message", [
    (["--reference", "missing.json"], 2, "does not exist"),
    (["--reference", "REF", "--quantile", "0"], 2, "--quantile"),
    (["--reference", "REF", "--bogus"], 2, "unrecognized"),
    (["--reference", "EMPTY"], 2, "no person"),
])
def test_cli_errors_are_one_line_with_exit_codes(tmp_path, capsys, args, code, message):
    from dwpose_core.cli.retarget import main

    pose = _write(tmp_path / "dance.json", clip(2))
    ref = _write(tmp_path / "ref.json", [reference_frame()])
    empty = _write(tmp_path / "empty.json", [FramePose(100, 100)])
    args = [str(ref) if a == "REF" else str(empty) if a == "EMPTY" else a for a in args]
    assert main([str(pose), *args, "--out", str(tmp_path / "o.json")]) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cli_unreadable_pose_file_is_exit_1(tmp_path, capsys):
    from dwpose_core.cli.retarget import main

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    ref = _write(tmp_path / "ref.json", [reference_frame()])
    assert main([str(bad), "--reference", str(ref), "--out", str(tmp_path / "o.json")]) == 1
    assert "bad.json" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_a_300_frame_clip_is_fast():
    # 13.7: vectorised over frames; measured about 20 ms here, the bound guards against per-frame loops.
    import time

    drive = clip(300)
    start = time.process_time()
    retarget(drive, reference_frame())
    assert time.process_time() - start < 1.0
