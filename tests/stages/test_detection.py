import time

import numpy as np
import pytest

from dwpose_core.backends import load_model
from dwpose_core.stages.detection import (DetectionThresholds, PersonDetector, decode_yolox, letterbox, nms, postprocess,
                                   sanitize_boxes)
from dwpose_core.stages.pose import WholeBodyPoseModel
from oracles import encode_boxes, hostile_raw_output, make_detector, make_pose, make_raw_detector


def test_letterbox_places_resized_image_top_left_over_114():
    image = np.full((100, 200, 3), 7, np.uint8)
    canvas, r = letterbox(image)
    assert r == pytest.approx(3.2)  # min(640/100, 640/200)
    assert canvas.shape == (640, 640, 3)
    assert (canvas[:320, :640] == 7).all()  # 100*3.2 = 320 rows, 200*3.2 = 640 cols
    assert (canvas[320:] == 114).all()


def test_letterbox_tall_image_pads_right():
    image = np.zeros((1000, 250, 3), np.uint8)
    canvas, r = letterbox(image)
    assert r == pytest.approx(0.64)
    assert (canvas[:, :160] == 0).all() and (canvas[:, 160:] == 114).all()


def test_decode_hand_computed_row():
    raw = np.zeros((8400, 85), np.float32)
    # stride-16 grid starts at row 6400; cell (gx=3, gy=2) is row 6400 + 2*40 + 3
    row = 6400 + 2 * 40 + 3
    raw[row, :4] = (0.5, 0.25, np.log(2.0), np.log(4.0))
    raw[row, 4], raw[row, 5] = 0.8, 0.5
    boxes, scores = decode_yolox(raw)
    # centre = ((0.5+3)*16, (0.25+2)*16) = (56, 36); size = (32, 64)
    np.testing.assert_allclose(boxes[row], [40, 4, 72, 68], atol=1e-4)
    assert scores[row] == pytest.approx(0.4)


def test_nms_hand_computed():
    boxes = np.array([[0, 0, 9, 9], [1, 1, 10, 10], [20, 20, 29, 29], [0, 0, 9, 4]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    # IoU(0,1) with +1 areas: inter 9*9=81, union 100+100-81=119 -> 0.68 > 0.45 (suppressed)
    # IoU(0,3): inter 10*5=50, union 100+50-50=100 -> 0.5 > 0.45 (suppressed)
    assert nms(boxes, scores, 0.45).tolist() == [0, 2]
    assert nms(boxes, scores, 0.55).tolist() == [0, 2, 3]


def test_postprocess_thresholds_and_ratio():
    raw = encode_boxes([(100, 100, 300, 500, 0.9), (105, 100, 305, 500, 0.8), (400, 50, 500, 150, 0.2)])
    boxes, scores = postprocess(raw, ratio=2.0, thresholds=DetectionThresholds())
    # the overlapping 0.8 box is suppressed; the 0.2 box passes candidates but fails keep 0.3
    np.testing.assert_allclose(boxes, [[50, 50, 150, 250]], atol=1e-3)
    np.testing.assert_allclose(scores, [0.9], atol=1e-6)
    boxes, _ = postprocess(raw, 2.0, DetectionThresholds(keep=0.1))
    assert len(boxes) == 2


@pytest.mark.parametrize("hw", [(480, 640), (1280, 720), (300, 300)])
def test_detector_maps_letterbox_boxes_to_image_pixels(tmp_path, hw):
    model_box = (64.0, 32.0, 320.0, 448.0)
    path = make_detector(tmp_path / "det.onnx", [model_box + (0.95,)])
    detector = PersonDetector(load_model(path, backend="onnxruntime"))
    (boxes, scores), = detector([np.zeros(hw + (3,), np.uint8)])
    r = min(640 / hw[0], 640 / hw[1])
    np.testing.assert_allclose(boxes[0], np.array(model_box) / r, rtol=1e-5)
    assert scores[0] == pytest.approx(0.95)


def test_detector_is_fed_bgr_by_default(tmp_path):
    path = make_detector(tmp_path / "probe.onnx", [(10, 10, 200, 300, 0.9)], channel_probe=True)
    model = load_model(path, backend="onnxruntime")
    blue = np.zeros((640, 640, 3), np.uint8)
    blue[:, :, 2] = 255  # pure blue in RGB
    red = np.zeros((640, 640, 3), np.uint8)
    red[:, :, 0] = 255
    bgr = PersonDetector(model, channel_order="bgr")
    assert len(bgr([blue])[0][0]) == 1  # channel 0 of the input is blue
    assert len(bgr([red])[0][0]) == 0
    rgb = PersonDetector(model, channel_order="rgb")
    assert len(rgb([red])[0][0]) == 1


def test_dynamic_batch_detector_runs_whole_batches(tmp_path):
    path = make_detector(tmp_path / "dyn.onnx", [(64, 64, 256, 512, 0.9)], dynamic_batch=True)
    model = load_model(path, backend="onnxruntime")
    assert model.max_batch is None
    calls = []
    original = model.run
    model.run = lambda batch: calls.append(len(batch)) or original(batch)
    try:
        out = PersonDetector(model)([np.zeros((320, 320, 3), np.uint8)] * 5)
    finally:
        model.run = original
    assert calls == [5] and all(len(b) == 1 for b, _ in out)


# ----------------------------------------------------------------------------- bounded detection

def test_boxes_are_clipped_to_the_frame():
    # model px, ratio 2 -> frame px (-20, 10, 60, 130) and (150, 100, 400, 300) in a 240x320 frame
    raw = encode_boxes([(-40, 20, 120, 260, 0.9), (300, 200, 800, 600, 0.8)])
    boxes, scores = postprocess(raw, 2.0, DetectionThresholds(), frame_hw=(240, 320))
    np.testing.assert_allclose(boxes, [[0, 10, 60, 130], [150, 100, 320, 240]], atol=1e-3)
    np.testing.assert_allclose(scores, [0.9, 0.8], atol=1e-6)


def test_empty_inverted_and_non_finite_boxes_are_dropped():
    boxes = np.array([[10, 10, 50, 80],  # fine
                      [30, 30, 30, 90],  # empty: zero width
                      [60, 60, 20, 90],  # inverted
                      [400, 10, 500, 90],  # entirely right of a 320-wide frame: empty once clipped
                      [np.nan, 0, 10, 10], [0, 0, np.inf, 10],  # not finite
                      [5, 5, 25, 25]], np.float32)
    scores = np.array([0.5, 0.9, 0.9, 0.9, 0.9, 0.9, 0.7], np.float32)
    scores_bad = scores.copy()
    kept, kept_scores = sanitize_boxes(boxes, scores, (240, 320))
    np.testing.assert_allclose(kept, [[5, 5, 25, 25], [10, 10, 50, 80]])  # best first
    np.testing.assert_allclose(kept_scores, [0.7, 0.5])
    scores_bad[0] = np.nan
    assert sanitize_boxes(boxes, scores_bad, (240, 320))[0].tolist() == [[5, 5, 25, 25]]


def test_at_most_max_detections_best_first():
    rng = np.random.default_rng(3)
    # 30 separate boxes (no NMS between them) with distinct scores, on a 6 x 5 grid of 100 px cells
    spec = [(100 * (i % 6) + 5, 100 * (i // 6) + 5, 100 * (i % 6) + 60, 100 * (i // 6) + 90, s)
            for i, s in enumerate(rng.permutation(np.linspace(0.4, 0.99, 30)))]
    raw = encode_boxes(spec)
    boxes, scores = postprocess(raw, 1.0, DetectionThresholds(max_detections=7), frame_hw=(640, 640))
    best = sorted(spec, key=lambda b: -b[4])[:7]
    np.testing.assert_allclose(scores, [b[4] for b in best], atol=1e-6)
    np.testing.assert_allclose(boxes, [b[:4] for b in best], atol=1e-3)
    assert len(postprocess(raw, 1.0, DetectionThresholds(), frame_hw=(640, 640))[0]) == 30
    assert len(postprocess(raw, 1.0, DetectionThresholds(max_detections=0), frame_hw=(640, 640))[0]) == 0


def test_default_max_detections_is_100():
    assert DetectionThresholds().max_detections == 100


@pytest.mark.parametrize("bad", [-1, 2.5, None, True])
def test_max_detections_must_be_a_non_negative_integer(bad):
    with pytest.raises(ValueError, match="max_detections"):
        DetectionThresholds(max_detections=bad)


def test_thresholding_before_nms_gives_the_same_boxes_as_after():
    """Candidates above the keep threshold enter NMS: same result as NMS first, then keep (reference order)."""
    rng = np.random.default_rng(0)
    raw = np.zeros((8400, 85), np.float32)
    raw[:, :2] = rng.uniform(0, 1, (8400, 2))
    raw[:, 2:4] = rng.uniform(0.5, 3.0, (8400, 2))
    raw[:, 4] = rng.uniform(0, 1, 8400)
    raw[:, 5] = rng.uniform(0, 1, 8400)
    t = DetectionThresholds(max_detections=10**6)
    boxes, scores = decode_yolox(raw)
    cand = scores > t.candidate
    keep = nms(boxes[cand], scores[cand], t.nms_iou)  # the reference order: candidates, NMS, then keep
    ref_boxes, ref_scores = boxes[cand][keep], scores[cand][keep]
    ref = ref_scores > t.keep
    ref_boxes = np.clip(ref_boxes[ref], 0, 640)  # then clipped to a 640x640 frame
    ours, our_scores = postprocess(raw, 1.0, t, frame_hw=(640, 640))
    assert len(ours) > 50
    np.testing.assert_allclose(our_scores, ref_scores[ref], rtol=1e-6)
    np.testing.assert_allclose(ours, ref_boxes, rtol=1e-5, atol=1e-4)


def test_hostile_detector_output_is_bounded_work(tmp_path):
    """A detector file emitting 8400 confident garbage rows (+-1e13 px, NaN, inf) gives at most
    max_detections finite in-frame boxes, and the pose stage runs on no more than those."""
    raw = hostile_raw_output(np.random.default_rng(7))
    detector = PersonDetector(load_model(make_raw_detector(tmp_path / "hostile.onnx", raw), backend="onnxruntime"))
    pose = WholeBodyPoseModel(load_model(make_pose(tmp_path / "pose.onnx", dynamic_batch=True), backend="onnxruntime"))
    frame = np.zeros((512, 512, 3), np.uint8)
    started = time.perf_counter()
    for limit, expected_max in ((DetectionThresholds(), 100), (DetectionThresholds(max_detections=5), 5)):
        (boxes, scores), = detector([frame], limit)
        assert 1 <= len(boxes) <= expected_max
        assert np.isfinite(boxes).all() and np.isfinite(scores).all()
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 512).all() and (boxes[:, 3] <= 512).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert (np.diff(scores) <= 0).all()  # best first
        calls = []
        original = pose.model.run
        pose.model.run = lambda batch: calls.append(len(batch)) or original(batch)
        try:
            keypoints, _ = pose([frame], np.zeros(len(boxes), np.int64), boxes)
        finally:
            pose.model.run = original
        assert sum(calls) == len(boxes) and np.isfinite(keypoints).all()
    assert time.perf_counter() - started < 30  # was 19 minutes and 3 GB for one image
