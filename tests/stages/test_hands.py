"""Hand refinement pass: hand points come back to the right frame pixels (oracle hand model, no weights).

The oracle hand model reports, for hand keypoints 0, 1, 2, the centroid of the R, G, B marker
blobs in its crop, and fixed SimCC bins for keypoints 3..20 (tests/oracles.py). Ground truth is
where the blobs were planted in the frame, and the fixed bins mapped through REFERENCE.md's
centre/scale convention (computed here, not by the code under test).

Error bound for a marker, in frame pixels, with s = crop scale / 256 frame px per crop px:
half a SimCC bin (0.25 crop px) + the centroid's shift from bilinear resampling and 8-bit
rounding in the crop (< 0.25 crop px for blobs several crop px wide) + the 8-bit rounding of the
blob planted in the frame (< 0.5 frame px)  ->  0.5 * s + 0.5.
"""
from __future__ import annotations

import numpy as np
import pytest

from dwpose_core.backends import load_model
from dwpose_core.stages import hands as hs
from oracles import hand_fixed_bins, make_hand, plant_blobs, reference_center_scale

HAND_HW = (256, 256)
LEFT = slice(91, 112)
RIGHT = slice(112, 133)


@pytest.fixture(scope="module")
def oracle_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("hand_oracles")


def _hand_model(oracle_dir, confidence=0.9):
    path = oracle_dir / f"hand_{confidence}.onnx"
    if not path.exists():
        make_hand(path, HAND_HW, confidence=confidence)
    return hs.load_hand_model(load_model(path, backend="onnxruntime"))


class Counting:
    """Counts the hand model's calls (batching check) around a real backend model."""

    def __init__(self, model):
        self.model, self.calls, self.batches = model, 0, []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def run(self, batch):
        self.calls += 1
        self.batches.append(len(batch))
        return self.model.run(batch)


def _rot(angle_deg):
    a = np.deg2rad(angle_deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def make_person(wrist, angle_deg, hand_len, side="left", hand_score=0.5, lost=False):
    """Whole-body keypoints/scores of one person: elbow -> wrist along ``angle_deg``, a hand of
    ``hand_len`` px beyond the wrist, and the true positions of hand points 0..2 (the markers)."""
    kp = np.zeros((133, 2), np.float32)
    sc = np.zeros(133, np.float32)
    rot = _rot(angle_deg)
    direction = rot @ np.array([1.0, 0.0])
    wrist = np.asarray(wrist, np.float64)
    forearm = hand_len / 0.75
    elbow_i, wrist_i, hand = (7, 9, LEFT) if side == "left" else (8, 10, RIGHT)
    kp[elbow_i], kp[wrist_i] = wrist - forearm * direction, wrist
    sc[elbow_i] = sc[wrist_i] = 0.9
    # the hand's 21 points: the wrist, then fingers fanned out beyond it (hand frame: x along forearm)
    local = [(0.0, 0.0)]
    for f in range(5):
        spread = (f - 2) * 0.18 * hand_len
        for j in range(1, 5):
            local.append((0.2 * hand_len + 0.2 * j * hand_len, spread * (0.6 + 0.1 * j)))
    pts = wrist + (rot @ np.array(local).T).T
    kp[hand] = pts
    sc[hand] = 0.0 if lost else hand_score
    # markers: true hand points 0 (wrist), 6 (index base) and 18 (little finger middle)
    markers = pts[[0, 6, 18]]
    return kp, sc, markers


def _blob_sigma(box):
    side = box[2] - box[0]
    frame_per_crop = side * 1.25 / HAND_HW[1]
    return max(1.2, 3.0 * frame_per_crop), frame_per_crop


def _check_hand(result, person, side, frame_markers, box):
    (_, _), (sw, _) = reference_center_scale(box, HAND_HW)
    s = sw / HAND_HW[1]
    hand = LEFT if side == "left" else RIGHT
    got = result.keypoints[person, hand]
    tolerance = 0.5 * s + 0.5
    err = np.abs(got[:3] - frame_markers)
    assert (err < tolerance).all(), f"marker error {err.max():.3f} px > {tolerance:.3f} px (s={s:.3f})"
    # fixed bins 3..20 through REFERENCE.md's convention
    (cx, cy), (sw, sh) = reference_center_scale(box, HAND_HW)
    fx, fy = hand_fixed_bins(HAND_HW)
    expected = np.stack([fx / 2.0 / HAND_HW[1] * sw + cx - sw / 2, fy / 2.0 / HAND_HW[0] * sh + cy - sh / 2], 1)
    np.testing.assert_allclose(got[3:], expected, atol=1e-3 * max(1.0, sw / 100))
    np.testing.assert_allclose(result.scores[person, hand], 0.9, atol=1e-3)


CASES = [
    # frame (h, w), wrist (x, y), forearm angle (deg), hand length px
    ((480, 640), (300.0, 240.0), 0.0, 60.0),  # middle of the frame
    ((480, 640), (600.0, 240.0), 0.0, 60.0),  # hand running off the right border
    ((480, 640), (40.0, 200.0), 180.0, 60.0),  # off the left border
    ((480, 640), (320.0, 45.0), -90.0, 60.0),  # off the top border
    ((480, 640), (320.0, 435.0), 90.0, 60.0),  # off the bottom border
    ((480, 640), (600.0, 440.0), 45.0, 50.0),  # bottom-right corner
    ((480, 640), (35.0, 35.0), -135.0, 50.0),  # top-left corner
    ((480, 640), (300.0, 240.0), 137.0, 70.0),  # rotated
    ((480, 640), (300.0, 240.0), -63.0, 70.0),  # rotated
    ((120, 160), (80.0, 60.0), 30.0, 10.0),  # tiny hand: the crop upsamples ~10x
    ((1500, 2000), (900.0, 700.0), 20.0, 600.0),  # large hand: the crop downsamples ~3x
]


@pytest.mark.parametrize("frame_hw,wrist,angle,hand_len", CASES)
@pytest.mark.parametrize("lost", [False, True], ids=["points", "forearm"])
def test_hand_points_land_on_planted_markers(oracle_dir, frame_hw, wrist, angle, hand_len, lost):
    kp, sc, markers = make_person(wrist, angle, hand_len, "left", lost=lost)
    (box,) = hs.hand_boxes(kp[None], sc[None])
    assert box.source == ("forearm" if lost else "points") and box.side == "left"
    sigma, _ = _blob_sigma(box.box)
    # markers stay inside the frame (the crop around them may not)
    h, w = frame_hw
    inside = (markers[:, 0] > 1) & (markers[:, 0] < w - 2) & (markers[:, 1] > 1) & (markers[:, 1] < h - 2)
    assert inside.all(), "case geometry: the markers must lie inside the frame"
    image = np.zeros(frame_hw + (3,), np.uint8)
    plant_blobs(image, markers, sigma)
    model = _hand_model(oracle_dir)
    result = hs.refine_hands(model, [image], np.array([0]), kp[None], sc[None])
    assert result.refined == [("left",)]
    _check_hand(result, 0, "left", markers, box.box)
    # the body (wrist included) and the other hand are untouched
    untouched = np.r_[0:91, 112:133]
    np.testing.assert_array_equal(result.keypoints[0, untouched], kp[untouched])
    np.testing.assert_array_equal(result.scores[0, untouched], sc[untouched])


def test_forearm_box_is_beyond_the_wrist_and_scaled_by_the_forearm():
    kp, sc, _ = make_person((300.0, 200.0), 90.0, 75.0, "right", lost=True)  # forearm 100 px, pointing down
    (box,) = hs.hand_boxes(kp[None], sc[None])
    x1, y1, x2, y2 = box.box
    assert box.source == "forearm" and box.side == "right"
    np.testing.assert_allclose([(x1 + x2) / 2, (y1 + y2) / 2], [300.0, 200.0 + 0.4 * 100.0], atol=1e-6)
    np.testing.assert_allclose([x2 - x1, y2 - y1], [90.0, 90.0], atol=1e-6)


def test_no_box_without_wrist_or_without_points_and_elbow():
    kp, sc, _ = make_person((300.0, 200.0), 0.0, 60.0, "left")
    sc_no_wrist = sc.copy()
    sc_no_wrist[9] = 0.1
    assert hs.hand_boxes(kp[None], sc_no_wrist[None]) == []
    kp2, sc2, _ = make_person((300.0, 200.0), 0.0, 60.0, "left", lost=True)
    sc2[7] = 0.0  # elbow lost too: nothing to extrapolate from
    assert hs.hand_boxes(kp2[None], sc2[None]) == []


def test_two_people_four_hands_one_batched_call(oracle_dir):
    frame_hw = (480, 640)
    people, all_markers = [], []
    for wrist, angle in (((150.0, 200.0), 10.0), ((450.0, 220.0), 170.0)):
        kp_l, sc_l, m_l = make_person(wrist, angle, 50.0, "left")
        kp_r, sc_r, m_r = make_person((wrist[0], wrist[1] + 150.0), angle, 50.0, "right")
        kp, sc = kp_l.copy(), sc_l.copy()
        kp[[8, 10]], sc[[8, 10]] = kp_r[[8, 10]], sc_r[[8, 10]]
        kp[RIGHT], sc[RIGHT] = kp_r[RIGHT], sc_r[RIGHT]
        people.append((kp, sc))
        all_markers.append((m_l, m_r))
    kps = np.stack([p[0] for p in people])
    scs = np.stack([p[1] for p in people])
    model = _hand_model(oracle_dir)
    counting = Counting(model.model)
    model.model = counting
    # three colours mark one hand per image: person n stands in frame n, whose markers are its left
    # hand's; all four crops (two frames, two people, both hands) go in one call
    images = []
    for n in range(2):
        image = np.zeros(frame_hw + (3,), np.uint8)
        plant_blobs(image, all_markers[n][0], 2.0)
        images.append(image)
    boxes = hs.hand_boxes(kps, scs)
    assert [(b.person, b.side) for b in boxes] == [(0, "left"), (0, "right"), (1, "left"), (1, "right")]
    result = hs.refine_hands(model, images, np.array([0, 1]), kps, scs)
    assert counting.calls == 1 and counting.batches == [4]
    assert result.refined == [("left", "right"), ("left", "right")]
    for n in range(2):
        left_box = next(b.box for b in boxes if b.person == n and b.side == "left")
        _check_hand(result, n, "left", all_markers[n][0], left_box)


@pytest.mark.parametrize("confidence,hand_score", [(0.2, 0.1), (0.9, 0.95)],
                         ids=["hand-model-below-minimum", "whole-body-more-confident"])
def test_unrefined_hands_are_returned_bit_for_bit(oracle_dir, confidence, hand_score):
    kp, sc, markers = make_person((300.0, 240.0), 30.0, 60.0, "left", hand_score=hand_score)
    image = np.zeros((480, 640, 3), np.uint8)
    plant_blobs(image, markers, 2.0)
    result = hs.refine_hands(_hand_model(oracle_dir, confidence), [image], np.array([0]), kp[None], sc[None])
    assert result.refined == [()]
    assert len(result.boxes) == 1  # the hand was tried...
    np.testing.assert_array_equal(result.keypoints[0], kp)  # ...and left exactly as it was
    np.testing.assert_array_equal(result.scores[0], sc)


def test_replacement_rule():
    assert hs.should_replace(np.full(21, 0.8), np.full(21, 0.5))
    assert not hs.should_replace(np.full(21, 0.5), np.full(21, 0.8))
    assert not hs.should_replace(np.full(21, 0.25), np.zeros(21))  # below MIN_REFINED_MEAN
    assert hs.should_replace(np.full(21, 0.4), np.full(21, np.nan))  # a non-finite score counts as 0


def test_no_people_no_call(oracle_dir):
    model = _hand_model(oracle_dir)
    counting = Counting(model.model)
    model.model = counting
    result = hs.refine_hands(model, [np.zeros((10, 10, 3), np.uint8)], np.zeros(0, np.int64),
                             np.zeros((0, 133, 2)), np.zeros((0, 133)))
    assert counting.calls == 0 and result.refined == [] and result.keypoints.shape == (0, 133, 2)


# ------------------------------------------------------------------------------ through the pipeline

def test_pipeline_refines_hands_and_the_json_says_which(oracle_dir, tmp_path):
    """Whole path: no detector (the frame is the person), the body oracle (every fixed point score
    1.0, wrists included), the hand oracle more confident (1.5) -> both hands refined, the hand points
    are the hand model's, the JSON lists both hands, and the body points are the body model's."""
    from dwpose_core.annotate import PoseAnnotator
    from dwpose_core.estimator_pool import ModelSetup, build_estimator
    from oracles import make_pose

    body = make_pose(tmp_path / "body.onnx", (256, 192), dynamic_batch=True)
    hand = make_hand(tmp_path / "hand_confident.onnx", HAND_HW, confidence=1.5)
    image = np.zeros((480, 360, 3), np.uint8)
    plain = build_estimator(ModelSetup(detector=None, pose=str(body), backend="onnxruntime"))
    refined = build_estimator(ModelSetup(detector=None, pose=str(body), backend="onnxruntime",
                                         refine_hands=str(hand)))
    try:
        (before,) = plain([image])
        annotation = PoseAnnotator(refined)([image])
    finally:
        plain.release()
        refined.release()
    (after,) = annotation.poses
    p0, p1 = before.people[0], after.people[0]
    assert p0.refined_hands == () and p1.refined_hands == ("left", "right")
    np.testing.assert_array_equal(p1.keypoints[:91], p0.keypoints[:91])  # body, feet, face untouched
    np.testing.assert_allclose(p1.scores[LEFT], 1.5, atol=1e-3)
    assert annotation.pose_keypoint[0]["people"][0]["refined_hands"] == ["left", "right"]
    # the refined points are where the hand oracle puts its fixed bins in the hand crops
    boxes = {b.side: b.box for b in hs.hand_boxes(p0.keypoints[None], p0.scores[None])}
    for side, hand_slice in (("left", LEFT), ("right", RIGHT)):
        (cx, cy), (sw, sh) = reference_center_scale(boxes[side], HAND_HW)
        fx, fy = hand_fixed_bins(HAND_HW)
        expected = np.stack([fx / 2.0 / 256 * sw + cx - sw / 2, fy / 2.0 / 256 * sh + cy - sh / 2], 1)
        np.testing.assert_allclose(p1.keypoints[hand_slice][3:], expected, atol=1e-2)


def test_setup_normalises_refine_hands():
    from dwpose_core.estimator_pool import ModelSetup

    assert ModelSetup(refine_hands="").refine_hands is None
    assert ModelSetup(refine_hands="none").refine_hands is None
    assert ModelSetup().refine_hands is None  # off by default
    assert ModelSetup(refine_hands="rtmpose-m_hand5_256x256.onnx") != ModelSetup()
