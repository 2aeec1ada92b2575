import numpy as np
import pytest

from dwpose_core.backends import load_model
from dwpose_core.detection import DetectionThresholds, PersonDetector, decode_yolox, letterbox, nms, postprocess
from oracles import encode_boxes, make_detector


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
