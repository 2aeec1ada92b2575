"""The detection stage's three output contracts, with graphs built here whose answers are known:
raw YOLOX at 416 (Nano/Tiny), an end-to-end graph with NMS inside (dets/labels, preprocessing from
pipeline.json), a YOLO-NAS-style graph (uint8 input, NMS inside), and a graph that fits none."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from dwpose_core.backends import load_model
from dwpose_core.errors import exit_code_for
from dwpose_core.stages.detection import (END2END, YOLO_NAS, YOLOX, DetectionThresholds, DetectorContractError,
                                          PersonDetector, Preprocess, detector_contract, read_pipeline)
from oracles import encode_boxes


def save(nodes, inputs, outputs, inits, path: Path, opset: int = 13) -> Path:
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, inits),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def zero_from(input_name: str, dtype=TensorProto.FLOAT):
    """Nodes giving a float scalar 0 computed from the input (so the input is used)."""
    nodes = [helper.make_node("Cast", [input_name], ["xf"], to=TensorProto.FLOAT)] if dtype != TensorProto.FLOAT \
        else [helper.make_node("Identity", [input_name], ["xf"])]
    return nodes + [helper.make_node("ReduceMax", ["xf"], ["mx"], keepdims=0),
                    helper.make_node("Mul", ["mx", "zero"], ["z"])], [numpy_helper.from_array(np.float32(0), "zero")]


class SessionModel:
    """The InferenceModel protocol over an ONNX Runtime session that feeds the input in the graph's dtype
    (what the stage hands it), independent of the backends' float32 cast."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name, self.input_type = inp.name, inp.type
        h, w = inp.shape[2], inp.shape[3]
        self.input_hw = (h, w) if isinstance(h, int) and isinstance(w, int) else None
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.max_batch = 1
        self.info = "onnxruntime (test)"
        self.fed = []

    def run(self, batch):
        self.fed.append(batch)
        return dict(zip(self.output_names, self.session.run(None, {self.input_name: batch})))


# ---------------------------------------------------------------- raw YOLOX at 416

def test_raw_yolox_at_416_has_3549_rows_and_decodes_to_the_planted_box(tmp_path):
    planted = (40.0, 24.0, 200.0, 392.0, 0.9)
    raw = encode_boxes([planted], (416, 416))
    assert raw.shape == (3549, 85) == ((416 // 8) ** 2 + (416 // 16) ** 2 + (416 // 32) ** 2, 85)
    zn, zi = zero_from("images")
    path = save(zn + [helper.make_node("Add", ["z", "const"], ["output"])],
                [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 416, 416])],
                [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3549, 85])],
                zi + [numpy_helper.from_array(raw[None], "const")], tmp_path / "yolox_nano.onnx")
    detector = PersonDetector(load_model(path, backend="onnxruntime"))
    assert detector.contract == YOLOX and detector.input_hw == (416, 416)
    (boxes, scores), = detector([np.zeros((832, 416, 3), np.uint8)])  # ratio 0.5
    np.testing.assert_allclose(boxes, [[80, 48, 400, 784]], rtol=1e-5)
    assert scores[0] == pytest.approx(0.9)


# ---------------------------------------------------------------- end-to-end (NMS inside)

# Candidates in input pixels: A and B overlap (IoU 0.82 > 0.65, B suppressed), C is another class,
# D scores under `keep`, E is a second person.
CANDIDATES = np.array([[100, 100, 300, 500], [110, 100, 310, 500], [350, 50, 450, 150], [300, 520, 420, 620],
                       [320, 200, 470, 520]], np.float32)
CLASS_SCORES = np.array([[0.9, 0.8, 0.05, 0.2, 0.6],     # class 0: person
                         [0.0, 0.0, 0.95, 0.0, 0.0]], np.float32)  # class 1


def end2end_graph(path: Path, hw=(640, 640), input_name: str = "input", names=("dets", "labels")) -> Path:
    """image -> fixed candidates -> NonMaxSuppression (IoU 0.65, score 0.01) -> dets [1,K,5], labels [1,K]."""
    zn, zi = zero_from(input_name)
    c = lambda v, n: numpy_helper.from_array(v, n)  # noqa: E731
    inits = zi + [c(CANDIDATES[None], "boxes0"), c(CLASS_SCORES[None], "scores"),
                  c(np.array([100], np.int64), "max"), c(np.array([0.65], np.float32), "iou"),
                  c(np.array([0.01], np.float32), "thr"), c(np.array(1, np.int64), "one"),
                  c(np.array(2, np.int64), "two"), c(np.array([0], np.int64), "ax0"),
                  c(np.array([1], np.int64), "ax1")]
    n = helper.make_node
    nodes = zn + [
        n("Add", ["boxes0", "z"], ["boxes"]),
        n("NonMaxSuppression", ["boxes", "scores", "max", "iou", "thr"], ["sel"]),
        n("Gather", ["sel", "two"], ["idx"], axis=1), n("Gather", ["sel", "one"], ["cls"], axis=1),
        n("Squeeze", ["boxes", "ax0"], ["b0"]), n("Gather", ["b0", "idx"], ["kb"], axis=0),
        n("Squeeze", ["scores", "ax0"], ["s0"]),  # [C, N]
        n("Unsqueeze", ["cls", "ax1"], ["cls1"]), n("Unsqueeze", ["idx", "ax1"], ["idx1"]),
        n("Concat", ["cls1", "idx1"], ["ci"], axis=1), n("GatherND", ["s0", "ci"], ["ks"]),
        n("Unsqueeze", ["ks", "ax1"], ["ks1"]), n("Concat", ["kb", "ks1"], ["d"], axis=1),
        n("Unsqueeze", ["d", "ax0"], [names[0]]), n("Unsqueeze", ["cls", "ax0"], [names[1]]),
    ]
    return save(nodes, [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, *hw])],
                [helper.make_tensor_value_info(names[0], TensorProto.FLOAT, [1, "K", 5]),
                 helper.make_tensor_value_info(names[1], TensorProto.INT64, [1, "K"])], inits, path)


def write_pipeline(path: Path, transforms) -> Path:
    path.write_text(json.dumps({"pipeline": {"input": ["img"], "output": ["post_output"], "tasks": [
        {"type": "Task", "module": "Transform", "name": "Preprocess", "transforms": transforms},
        {"name": "yolox", "type": "Task", "module": "Net"}]}}))
    return path


YOLOX_PIPELINE = [{"type": "LoadImageFromFile"}, {"type": "Resize", "size": [640, 640], "keep_ratio": True},
                  {"type": "Pad", "size": [640, 640], "pad_val": {"img": [114, 114, 114]}},
                  {"type": "DefaultFormatBundle"}, {"type": "Collect", "keys": ["img"]}]


@pytest.mark.parametrize("names", [("dets", "labels"), ("out0", "out1")])
def test_an_end_to_end_graph_gives_the_hand_computed_boxes(tmp_path, names):
    path = end2end_graph(tmp_path / "yolox_m_humanart.onnx", names=names)
    write_pipeline(tmp_path / "yolox_m_humanart.pipeline.json", YOLOX_PIPELINE)
    detector = PersonDetector(SessionModel(path))
    assert detector.contract == END2END and detector.preprocessing == Preprocess((640, 640))
    frame = np.zeros((1280, 960, 3), np.uint8)  # ratio 0.5
    (boxes, scores), = detector([frame])
    # A (0.9) and E (0.6) remain: B is suppressed by A inside the graph, C is class 1, D is under keep 0.3
    np.testing.assert_allclose(boxes, [[200, 200, 600, 1000], [640, 400, 940, 1040]], rtol=1e-6)
    np.testing.assert_allclose(scores, [0.9, 0.6], rtol=1e-6)
    (_, low), = detector([frame], DetectionThresholds(keep=0.1))
    np.testing.assert_allclose(low, [0.9, 0.6, 0.2], rtol=1e-6)
    # the graph's raw 0-255 input, BGR, letterboxed over 114
    fed = detector.model.fed[0]
    assert fed.dtype == np.float32 and fed.shape == (1, 3, 640, 640)
    assert (fed[0, :, :, 480:] == 114).all() and (fed[0, :, :, :480] == 0).all()


def test_pipeline_json_sets_size_pad_normalisation_and_channel_order(tmp_path):
    path = end2end_graph(tmp_path / "rtmdet_m_person.onnx", hw=(320, 320))
    mean, std = [103.53, 116.28, 123.675], [57.375, 57.12, 58.395]
    write_pipeline(tmp_path / "pipeline.json", [
        {"type": "LoadImageFromFile"}, {"type": "Resize", "size": [320, 320], "keep_ratio": True},
        {"type": "Pad", "size": [320, 320], "pad_val": {"img": [0, 0, 0]}},
        {"type": "Normalize", "mean": mean, "std": std, "to_rgb": False}, {"type": "PackDetInputs"}])
    detector = PersonDetector(SessionModel(path))
    assert detector.preprocessing == Preprocess((320, 320), "bgr", 0, tuple(mean), tuple(std))
    frame = np.zeros((320, 160, 3), np.uint8)
    frame[...] = (10, 20, 30)  # RGB
    chw, ratio = detector.preprocess(frame)
    assert ratio == 1.0
    # BGR order, then (x - mean) / std per channel; the pad (0) is normalised too
    np.testing.assert_allclose(chw[:, 5, 5], [(30 - 103.53) / 57.375, (20 - 116.28) / 57.12,
                                              (10 - 123.675) / 58.395], rtol=1e-5)
    np.testing.assert_allclose(chw[:, 5, 300], [-103.53 / 57.375, -116.28 / 57.12, -123.675 / 58.395], rtol=1e-5)
    rgb = read_pipeline(write_pipeline(tmp_path / "p2.json", [
        {"type": "Resize", "size": [640, 480], "keep_ratio": True}, {"type": "Normalize", "mean": [1, 2, 3],
                                                                     "std": [4, 5, 6], "to_rgb": True}]))
    assert (rgb.input_hw, rgb.channel_order) == ((480, 640), "rgb")


@pytest.mark.parametrize("transform, words", [
    ({"type": "RandomAffine"}, "unknown transform 'RandomAffine'"),
    ({"type": "Resize", "size": [640, 640], "keep_ratio": False}, "keep_ratio"),
    ({"type": "Pad", "size": [640, 640], "pad_val": {"img": [1, 2, 3]}}, "per-channel pad"),
])
def test_an_unknown_or_unsupported_transform_is_refused_in_one_line(tmp_path, transform, words):
    path = end2end_graph(tmp_path / "det.onnx")
    write_pipeline(tmp_path / "det.pipeline.json", [YOLOX_PIPELINE[1], transform])
    with pytest.raises(DetectorContractError) as err:
        PersonDetector(SessionModel(path))
    assert words in str(err.value) and "\n" not in str(err.value)
    assert exit_code_for(err.value) == 2


def test_without_pipeline_json_the_humanart_facts_apply(tmp_path):
    path = end2end_graph(tmp_path / "end2end.onnx")
    detector = PersonDetector(SessionModel(path))
    assert detector.preprocessing == Preprocess((640, 640), "bgr", 114, None, None)


def test_the_end_to_end_graph_from_make_test_models_runs_through_the_backend(tmp_path):
    """tools/make_test_models.append_end2end (the benchmark's graph): a raw oracle + decode + NMS inside."""
    from oracles import make_detector
    from tools.make_test_models import append_end2end

    raw = make_detector(tmp_path / "raw.onnx", [(64, 32, 320, 448, 0.95), (70, 32, 326, 448, 0.5),
                                               (400, 400, 500, 600, 0.7)])
    e2e = tmp_path / "e2e.onnx"
    onnx.save(append_end2end(onnx.load(str(raw)), (640, 640)), str(e2e))
    detector = PersonDetector(load_model(e2e, backend="onnxruntime"))
    (boxes, scores), = detector([np.zeros((640, 640, 3), np.uint8)])
    np.testing.assert_allclose(boxes, [[64, 32, 320, 448], [400, 400, 500, 600]], atol=1e-3)
    np.testing.assert_allclose(scores, [0.95, 0.7], rtol=1e-5)


# ---------------------------------------------------------------- YOLO-NAS (uint8, NMS inside)

def yolo_nas_graph(path: Path) -> Path:
    """uint8 image -> (num_predictions [1,1], boxes [1,4,4], scores [1,4], classes [1,4]); rows after
    num_predictions are padding."""
    zn, zi = zero_from("input", TensorProto.UINT8)
    boxes = np.array([[[10, 20, 110, 220], [300, 300, 400, 400], [50, 50, 60, 60], [0, 0, 640, 640]]], np.float32)
    c = numpy_helper.from_array
    inits = zi + [c(np.array([[3]], np.int64), "num0"), c(boxes, "b0"),
                  c(np.array([[0.9, 0.8, 0.25, 0.99]], np.float32), "s0"), c(np.array([[0, 2, 0, 0]], np.int64), "c0")]
    n = helper.make_node
    nodes = zn + [n("Identity", ["num0"], ["num_predictions"]), n("Add", ["b0", "z"], ["pred_boxes"]),
                  n("Add", ["s0", "z"], ["pred_scores"]), n("Identity", ["c0"], ["pred_classes"])]
    outs = [helper.make_tensor_value_info("num_predictions", TensorProto.INT64, [1, 1]),
            helper.make_tensor_value_info("pred_boxes", TensorProto.FLOAT, [1, 4, 4]),
            helper.make_tensor_value_info("pred_scores", TensorProto.FLOAT, [1, 4]),
            helper.make_tensor_value_info("pred_classes", TensorProto.INT64, [1, 4])]
    return save(nodes, [helper.make_tensor_value_info("input", TensorProto.UINT8, [1, 3, 640, 640])], outs, inits,
                path)


def test_a_yolo_nas_style_graph_is_fed_uint8_and_keeps_person_rows_within_num_predictions(tmp_path):
    model = SessionModel(yolo_nas_graph(tmp_path / "yolo_nas_s_fp16.onnx"))
    detector = PersonDetector(model, channel_order="rgb")
    assert detector.contract == YOLO_NAS
    (boxes, scores), = detector([np.full((320, 160, 3), 7, np.uint8)])  # ratio 2, pad right of x = 320
    # row 1 is class 2, row 2 scores 0.25 < 0.3, row 3 is padding past num_predictions
    np.testing.assert_allclose(boxes, [[5, 10, 55, 110]])
    np.testing.assert_allclose(scores, [0.9])
    assert model.fed[0].dtype == np.uint8 and model.fed[0][0, 0, 0, 0] == 7 and model.fed[0][0, 0, 639, 639] == 114


# ---------------------------------------------------------------- none of them

def test_a_detector_matching_no_contract_is_one_line_naming_the_expected_outputs(tmp_path):
    assert [detector_contract(n) for n in (["output"], ["dets", "labels"], ["a", "b", "c", "d"])] == \
        [YOLOX, END2END, YOLO_NAS]
    zn, zi = zero_from("images")
    outs = ["a", "b", "c"]
    path = save(zn + [helper.make_node("Identity", ["z"], [o]) for o in outs],
                [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
                [helper.make_tensor_value_info(o, TensorProto.FLOAT, []) for o in outs], zi, tmp_path / "odd.onnx")
    with pytest.raises(DetectorContractError) as err:
        PersonDetector(SessionModel(path))
    text = str(err.value)
    assert "odd.onnx has outputs a, b, c" in text and "dets [N, K, 5] + labels [N, K]" in text
    assert "[N, anchors, 5 + classes]" in text and "\n" not in text and exit_code_for(err.value) == 2


def test_a_two_output_graph_whose_shapes_are_not_dets_is_refused_at_the_first_run(tmp_path):
    zn, zi = zero_from("images")
    c = numpy_helper.from_array
    path = save(zn + [helper.make_node("Add", ["z", "k1"], ["p"]), helper.make_node("Add", ["z", "k2"], ["q"])],
                [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
                [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 7, 3]),
                 helper.make_tensor_value_info("q", TensorProto.FLOAT, [1, 7])],
                zi + [c(np.zeros((1, 7, 3), np.float32), "k1"), c(np.zeros((1, 7), np.float32), "k2")],
                tmp_path / "two.onnx")
    detector = PersonDetector(SessionModel(path))
    with pytest.raises(DetectorContractError, match=r"p \[1, 7, 3\].*do not fit the end2end contract"):
        detector([np.zeros((64, 64, 3), np.uint8)])


# ---------------------------------------------------------------- through the backends

def test_a_dynamic_size_end_to_end_graph_runs_on_onnx_runtime_at_its_pipeline_size(tmp_path):
    """mmdeploy exports have a dynamic input size: the stage takes it from pipeline.json."""
    path = end2end_graph(tmp_path / "det.onnx", hw=("H", "W"))
    write_pipeline(tmp_path / "det.pipeline.json", [{"type": "Resize", "size": [320, 320], "keep_ratio": True},
                                                    {"type": "Pad", "size": [320, 320]}])
    model = load_model(path, backend="auto", device="cpu")
    assert model.input_hw is None and "end-to-end detector" in str(model.plan)
    detector = PersonDetector(model)
    assert detector.input_hw == (320, 320)
    (boxes, scores), = detector([np.zeros((640, 480, 3), np.uint8)])  # ratio 0.5
    # A maps to [200, 200, 600, 1000], clipped to the 480x640 frame; E to x >= 640, outside it: dropped
    np.testing.assert_allclose(boxes, [[200, 200, 480, 640]], rtol=1e-6)
    np.testing.assert_allclose(scores, [0.9], rtol=1e-6)


def test_a_yolo_nas_graph_gets_uint8_from_the_onnx_runtime_backend(tmp_path):
    path = yolo_nas_graph(tmp_path / "yolo_nas_s_fp16.onnx")
    model = load_model(path, backend="auto", device="cpu")
    assert "YOLO-NAS" in str(model.plan)
    (boxes, scores), = PersonDetector(model, channel_order="rgb")([np.full((320, 160, 3), 7, np.uint8)])
    np.testing.assert_allclose(boxes, [[5, 10, 55, 110]])
