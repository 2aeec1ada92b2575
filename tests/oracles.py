"""Oracle models: tiny ONNX files with the real DWPose/YOLOX input/output contract whose
outputs are known functions of the input, so geometry can be checked against ground truth.

Detector oracle: reports fixed boxes (given in letterbox/model pixels) through the YOLOX
raw-output encoding; optionally the first box's objectness is the mean of input channel 0
divided by 255 (a channel-order probe: only a BGR-fed blue image lights it up).

Pose oracle: keypoints 0, 1, 2 sit at the brightest crop pixel of input channel 0, 1, 2
(R, G, B after RGB normalisation), so planted marker blobs are recovered; keypoints 3..132
sit at fixed SimCC bins (``fixed_bins``) with score 1.0, whatever the input.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 11
NUM_KEYPOINTS = 133
MARKER_KEYPOINTS = 3
STRIDES = (8, 16, 32)


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


# ----------------------------------------------------------------------------------------
# detector

def encode_boxes(boxes, input_hw=(640, 640)) -> np.ndarray:
    """Raw [8400,85] YOLOX output that decodes to ``boxes`` [(x1,y1,x2,y2,score)] in model px."""
    raw = np.zeros((sum((input_hw[0] // s) * (input_hw[1] // s) for s in STRIDES), 85), np.float32)
    raw[:, 2:4] = 0.0
    used = set()
    for x1, y1, x2, y2, score in boxes:
        cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
        offset = 0
        for stride in STRIDES:
            gh, gw = input_hw[0] // stride, input_hw[1] // stride
            gx, gy = min(int(cx // stride), gw - 1), min(int(cy // stride), gh - 1)
            row = offset + gy * gw + gx
            offset += gh * gw
            if row in used:
                continue
            used.add(row)
            raw[row, :4] = (cx / stride - gx, cy / stride - gy, math.log(w / stride), math.log(h / stride))
            raw[row, 4] = score
            raw[row, 5] = 1.0  # person class probability
            break
        else:
            raise ValueError("no free grid cell for box")
    return raw


def make_detector(path: Path, boxes, dynamic_batch: bool = False, channel_probe: bool = False) -> Path:
    """Detector oracle writing ``boxes`` (model px, with scores) for every image."""
    raw = encode_boxes(boxes)
    batch = "N" if dynamic_batch else 1
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, 640, 640])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 8400, 85])
    nodes = [
        # zero of shape [N,1,1] so the constant broadcasts over the batch
        helper.make_node("ReduceMax", ["images"], ["m"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["m", "zero"], ["z4"]),
        helper.make_node("Squeeze", ["z4"], ["z"], axes=[3]),
        helper.make_node("Add", ["z", "const"], ["base"]),
    ]
    inits = [numpy_helper.from_array(raw[None], "const"), numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    if channel_probe:
        # objectness of the first box row = mean(channel 0) / 255
        row = int(np.flatnonzero(raw[:, 4] > 0)[0])
        mask = np.zeros((1, 8400, 85), np.float32)
        mask[0, row, 4] = 1.0
        nodes += [
            helper.make_node("Gather", ["images", "c0"], ["ch0"], axis=1),
            helper.make_node("ReduceMean", ["ch0"], ["mean0"], axes=[1, 2], keepdims=1),  # [N,1,1]
            helper.make_node("Div", ["mean0", "v255"], ["probe"]),
            helper.make_node("Mul", ["probe", "mask"], ["probe_full"]),
            helper.make_node("Mul", ["base", "inv_mask"], ["base_masked"]),
            helper.make_node("Add", ["base_masked", "probe_full"], ["output"]),
        ]
        inits += [
            numpy_helper.from_array(np.array(0, np.int64), "c0"),
            numpy_helper.from_array(np.array(255.0, np.float32), "v255"),
            numpy_helper.from_array(mask, "mask"),
            numpy_helper.from_array(1.0 - mask, "inv_mask"),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["base"], ["output"]))
    return _save(helper.make_graph(nodes, "detector_oracle", [x], [y], inits), path)


# ----------------------------------------------------------------------------------------
# pose

def fixed_bins(input_hw) -> tuple[np.ndarray, np.ndarray]:
    """SimCC bins (x, y) of keypoints 3..132 in the pose oracle."""
    h, w = input_hw
    k = np.arange(MARKER_KEYPOINTS, NUM_KEYPOINTS)
    return (5 * k + 3) % (2 * w), (7 * k + 1) % (2 * h)


def make_pose(path: Path, input_hw=(256, 192), dynamic_batch: bool = False) -> Path:
    """Pose oracle with the real I/O names: ``input`` -> ``simcc_x``, ``simcc_y``."""
    h, w = input_hw
    batch = "N" if dynamic_batch else 1
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, h, w])
    ox = helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, [batch, NUM_KEYPOINTS, 2 * w])
    oy = helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, [batch, NUM_KEYPOINTS, 2 * h])
    nodes, inits = [], []
    fx, fy = fixed_bins(input_hw)
    n_fixed = NUM_KEYPOINTS - MARKER_KEYPOINTS
    fixed_x = np.zeros((1, n_fixed, 2 * w), np.float32)
    fixed_y = np.zeros((1, n_fixed, 2 * h), np.float32)
    fixed_x[0, np.arange(n_fixed), fx] = 1.0
    fixed_y[0, np.arange(n_fixed), fy] = 1.0
    inits += [numpy_helper.from_array(fixed_x, "fixed_x"), numpy_helper.from_array(fixed_y, "fixed_y"),
              numpy_helper.from_array(np.array(1e-3, np.float32), "eps"),
              numpy_helper.from_array(np.zeros((), np.float32), "zero"),
              numpy_helper.from_array(np.array([0, 1, -1], np.int64), "shape_row")]
    nodes += [helper.make_node("ReduceMax", ["input"], ["m"], axes=[1, 2, 3], keepdims=0),
              helper.make_node("Mul", ["m", "zero"], ["z1"]),
              helper.make_node("Unsqueeze", ["z1"], ["z"], axes=[1, 2])]  # [N,1,1]
    for axis_name, reduce_axis in (("x", 1), ("y", 2)):
        parts = []
        for c in range(MARKER_KEYPOINTS):
            inits.append(numpy_helper.from_array(np.array(c, np.int64), f"c{c}_{axis_name}"))
            p = f"{axis_name}{c}"
            nodes += [
                helper.make_node("Gather", ["input", f"c{c}_{axis_name}"], [f"{p}_ch"], axis=1),  # [N,H,W]
                helper.make_node("ReduceMax", [f"{p}_ch"], [f"{p}_prof"], axes=[reduce_axis], keepdims=0),
                helper.make_node("Unsqueeze", [f"{p}_prof"], [f"{p}_u"], axes=[2]),  # [N,L,1]
                helper.make_node("Sub", [f"{p}_u", "eps"], [f"{p}_lo"]),
                helper.make_node("Concat", [f"{p}_u", f"{p}_lo"], [f"{p}_pair"], axis=2),  # [N,L,2]
                helper.make_node("Reshape", [f"{p}_pair", "shape_row"], [f"{p}_bins"]),  # [N,1,2L]
            ]
            parts.append(f"{p}_bins")
        nodes += [
            helper.make_node("Add", ["z", f"fixed_{axis_name}"], [f"fixed_{axis_name}_b"]),
            helper.make_node("Concat", parts + [f"fixed_{axis_name}_b"], [f"simcc_{axis_name}"], axis=1),
        ]
    return _save(helper.make_graph(nodes, "pose_oracle", [x], [ox, oy], inits), path)


# ----------------------------------------------------------------------------------------
# ground truth helpers, written from REFERENCE.md independently of dwpose_core

def reference_center_scale(box, input_hw):
    """Centre and (w, h) scale of a box per REFERENCE.md: size x 1.25, widened to the model aspect."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    w, h = (x2 - x1) * 1.25, (y2 - y1) * 1.25
    aspect = input_hw[1] / input_hw[0]
    if w > h * aspect:
        h = w / aspect
    else:
        w = h * aspect
    return (cx, cy), (w, h)


def expected_fixed_points(box, input_hw) -> np.ndarray:
    """Frame-pixel positions of the fixed-bin keypoints 3..132 for a detection box."""
    (cx, cy), (sw, sh) = reference_center_scale(box, input_hw)
    fx, fy = fixed_bins(input_hw)
    x = fx / 2.0 / input_hw[1] * sw + cx - sw / 2
    y = fy / 2.0 / input_hw[0] * sh + cy - sh / 2
    return np.stack([x, y], axis=1)


def plant_markers(image: np.ndarray, points, radius: float) -> None:
    """Draw a cone of height 255 at each point (x, y) in channel i (R, G, B); in place."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for channel, (px, py) in enumerate(points):
        cone = np.clip(255.0 * (1.0 - np.hypot(xx - px, yy - py) / radius), 0, 255)
        image[:, :, channel] = np.maximum(image[:, :, channel], np.round(cone).astype(np.uint8))


def make_raw_detector(path: Path, raw: np.ndarray, input_hw=(640, 640)) -> Path:
    """Detector oracle whose output is the given raw [A,85] array for every image (hostile outputs)."""
    raw = np.asarray(raw, np.float32)
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, *input_hw])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, raw.shape[0], raw.shape[1]])
    nodes = [helper.make_node("ReduceMax", ["images"], ["m"], axes=[1, 2, 3], keepdims=1),
             helper.make_node("Mul", ["m", "zero"], ["z4"]),
             helper.make_node("Squeeze", ["z4"], ["z"], axes=[3]),
             helper.make_node("Add", ["z", "const"], ["output"])]
    inits = [numpy_helper.from_array(raw[None], "const"), numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    return _save(helper.make_graph(nodes, "raw_detector_oracle", [x], [y], inits), path)


def hostile_raw_output(rng, rows: int = 8400) -> np.ndarray:
    """Every row a confident person with absurd offsets: huge (+-1e12 cells), exp-overflowing sizes,
    NaN and inf values sprinkled in: what a broken or adversarial detector file can emit."""
    raw = np.zeros((rows, 85), np.float32)
    raw[:, 0:2] = rng.choice([-1.0, 1.0], (rows, 2)) * rng.uniform(1e9, 1e12, (rows, 2))
    raw[:, 2:4] = rng.uniform(20.0, 80.0, (rows, 2))
    raw[:, 4] = rng.uniform(0.5, 1.0, rows)
    raw[:, 5] = 1.0
    bad = rng.choice(rows, 300, replace=False)
    raw[bad[:100], 0] = np.nan
    raw[bad[100:200], 3] = np.inf
    raw[bad[200:], 4] = np.nan
    return raw


# ----------------------------------------------------------------------------------------
# hand (the refinement pass's 21-point model, stages/hands.py)

HAND_KEYPOINTS = 21
HAND_MARKER_KEYPOINTS = 3
HAND_MARKER_LEVEL = 128  # a crop pixel belongs to a marker when its channel is brighter than this


def hand_fixed_bins(input_hw=(256, 256)) -> tuple[np.ndarray, np.ndarray]:
    """SimCC bins (x, y) of hand keypoints 3..20 in the hand oracle."""
    h, w = input_hw
    k = np.arange(HAND_MARKER_KEYPOINTS, HAND_KEYPOINTS)
    return (11 * k + 5) % (2 * w), (13 * k + 7) % (2 * h)


def make_hand(path: Path, input_hw=(256, 256), confidence: float = 0.9) -> Path:
    """Hand oracle (dynamic batch, the real I/O names): keypoints 0, 1, 2 are the centroids of the
    crop pixels whose R, G, B value is above HAND_MARKER_LEVEL (weights = value - level); the SimCC
    row peaks at the bin nearest the centroid with height ``confidence``. Keypoints 3..20 sit at
    ``hand_fixed_bins`` with score ``confidence``."""
    h, w = input_hw
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, h, w])
    ox = helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, ["N", HAND_KEYPOINTS, 2 * w])
    oy = helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, ["N", HAND_KEYPOINTS, 2 * h])
    mean = np.array([123.675, 116.28, 103.53], np.float32)
    std = np.array([58.395, 57.12, 57.375], np.float32)
    level = ((HAND_MARKER_LEVEL - mean) / std).reshape(1, 3, 1, 1).astype(np.float32)
    n_fixed = HAND_KEYPOINTS - HAND_MARKER_KEYPOINTS
    fx, fy = hand_fixed_bins(input_hw)
    fixed = {}
    for axis, bins, length in (("x", fx, 2 * w), ("y", fy, 2 * h)):
        arr = np.zeros((1, n_fixed, length), np.float32)
        arr[0, np.arange(n_fixed), bins] = confidence
        fixed[axis] = arr
    inits = [
        numpy_helper.from_array(level, "level"),
        numpy_helper.from_array((1.0 / std).reshape(1, 3, 1, 1).astype(np.float32), "to_grey"),
        numpy_helper.from_array(np.arange(w, dtype=np.float32).reshape(1, 1, 1, w), "xs"),
        numpy_helper.from_array(np.arange(h, dtype=np.float32).reshape(1, 1, h, 1), "ys"),
        numpy_helper.from_array(np.array(1e-6, np.float32), "tiny"),
        numpy_helper.from_array((np.arange(2 * w, dtype=np.float32) / 2).reshape(1, 1, 2 * w), "bins_x"),
        numpy_helper.from_array((np.arange(2 * h, dtype=np.float32) / 2).reshape(1, 1, 2 * h), "bins_y"),
        numpy_helper.from_array(np.array(confidence, np.float32), "peak"),
        numpy_helper.from_array(np.array(1e-3, np.float32), "sharp"),
        numpy_helper.from_array(fixed["x"], "fixed_x"),
        numpy_helper.from_array(fixed["y"], "fixed_y"),
        numpy_helper.from_array(np.zeros((), np.float32), "zero"),
    ]
    nodes = [
        # weights: how far each channel is above the level, in grey levels (normalised units x std)
        helper.make_node("Sub", ["input", "level"], ["above"]),
        helper.make_node("Relu", ["above"], ["above_pos"]),
        helper.make_node("Div", ["above_pos", "to_grey"], ["wgt"]),  # [N,3,H,W]
        helper.make_node("ReduceSum", ["wgt"], ["mass"], axes=[2, 3], keepdims=0),  # [N,3]
        helper.make_node("Add", ["mass", "tiny"], ["mass_safe"]),
        helper.make_node("Mul", ["wgt", "xs"], ["wx"]),
        helper.make_node("Mul", ["wgt", "ys"], ["wy"]),
        helper.make_node("ReduceSum", ["wx"], ["sx"], axes=[2, 3], keepdims=0),
        helper.make_node("ReduceSum", ["wy"], ["sy"], axes=[2, 3], keepdims=0),
        helper.make_node("Div", ["sx", "mass_safe"], ["cx"]),  # [N,3] crop px
        helper.make_node("Div", ["sy", "mass_safe"], ["cy"]),
        helper.make_node("ReduceMax", ["input"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z1"]),
        helper.make_node("Unsqueeze", ["z1"], ["z"], axes=[1, 2]),  # [N,1,1] zeros
    ]
    for axis in ("x", "y"):
        nodes += [
            helper.make_node("Unsqueeze", [f"c{axis}"], [f"c{axis}_u"], axes=[2]),  # [N,3,1]
            helper.make_node("Sub", [f"bins_{axis}", f"c{axis}_u"], [f"d{axis}"]),  # [N,3,L]
            helper.make_node("Mul", [f"d{axis}", f"d{axis}"], [f"d{axis}2"]),
            helper.make_node("Mul", [f"d{axis}2", "sharp"], [f"d{axis}2s"]),
            helper.make_node("Sub", ["peak", f"d{axis}2s"], [f"marker_{axis}"]),
            helper.make_node("Add", ["z", f"fixed_{axis}"], [f"fixed_{axis}_b"]),
            helper.make_node("Concat", [f"marker_{axis}", f"fixed_{axis}_b"], [f"simcc_{axis}"], axis=1),
        ]
    return _save(helper.make_graph(nodes, "hand_oracle", [x], [ox, oy], inits), path)


def plant_blobs(image: np.ndarray, points, sigma: float) -> None:
    """A Gaussian blob of peak 255 at each sub-pixel point (x, y) in channel i (R, G, B); in place.
    Its pixels above HAND_MARKER_LEVEL are symmetric about the point, so their weighted centroid
    is the point."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    for channel, (px, py) in enumerate(points):
        blob = 255.0 * np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * sigma ** 2))
        image[:, :, channel] = np.maximum(image[:, :, channel], np.round(blob).astype(np.uint8))
