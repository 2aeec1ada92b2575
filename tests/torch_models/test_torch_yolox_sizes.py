"""Every YOLOX size on the torch backend vs ONNX Runtime, at the network outputs, from .onnx and .pth.

Nano (depthwise-separable convolutions) at its published 416; S, M and X at 320 (the same
architecture and weights as at 640 - every layer is convolutional - at a quarter of the compute);
L and Tiny from the shared model store are in test_torch_parity.py. Random weights from
tools/make_test_models.py (fixed seed); the .pth is the unfused checkpoint, the .onnx its fused export.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from dwpose_core.backends.torch_backend import TorchModel  # noqa: E402
from dwpose_core.torch_models.loading import load_weights, spec_from_onnx  # noqa: E402
from dwpose_core.torch_models.yolox import YOLOX, DWConv, YOLOXSpec  # noqa: E402

FP32_TOL = 1e-4  # of each output's range
# .pth too for these (M and X checkpoints go through the same key mapping; writing 0.1-0.4 GB more costs
# the suite ~20 s for nothing new). L and Tiny from .pth: test_torch_parity.py.
FROM_PTH = ("yolox_nano", "yolox_s")
SIZES = {"yolox_nano": YOLOXSpec("nano", (416, 416)), "yolox_s": YOLOXSpec("s", (320, 320)),
         "yolox_m": YOLOXSpec("m", (320, 320)), "yolox_x": YOLOXSpec("x", (320, 320))}


@pytest.fixture(scope="module")
def files(tmp_path_factory, request):
    """stem -> {"onnx": path, "pth": path}, written once per module."""
    from tools import make_test_models as mtm

    root = tmp_path_factory.mktemp("yolox_sizes")
    written = {}

    def get(stem):
        if stem not in written:
            original = mtm.MODELS[stem]
            mtm.MODELS[stem] = SIZES[stem]
            try:
                formats = ("onnx", "pth") if stem in FROM_PTH else ("onnx",)
                written[stem] = mtm.make(stem, root, formats, seed=3, lean=True)
            finally:
                mtm.MODELS[stem] = original
        return written[stem]
    return get


def relative_error(ours, ref):
    return float(np.abs(ours - ref).max() / (ref.max() - ref.min()))


@pytest.mark.parametrize("stem, source", [(stem, "onnx") for stem in SIZES] + [(stem, "pth") for stem in FROM_PTH])
def test_every_yolox_size_matches_onnxruntime(files, stem, source):
    spec = SIZES[stem]
    paths = files(stem)
    batch = np.random.default_rng(11).uniform(0, 255, (1, 3, *spec.input_hw)).astype(np.float32)
    session = ort.InferenceSession(str(paths["onnx"]), providers=["CPUExecutionProvider"])
    ref = session.run(None, {"images": batch})[0]
    model = TorchModel(paths[source], device="cpu", cache=False)
    out = model.run(batch)["output"]
    rows = sum((spec.input_hw[0] // s) * (spec.input_hw[1] // s) for s in (8, 16, 32))
    assert out.shape == ref.shape == (1, rows, 85)
    for sl in (slice(0, 4), slice(4, 5), slice(5, 85)):  # box offsets, objectness, class scores
        assert relative_error(out[..., sl], ref[..., sl]) < FP32_TOL, (stem, source, sl)


def test_nano_is_recognised_from_its_depthwise_graph_and_checkpoint(files):
    paths = files("yolox_nano")
    import onnx

    graph = onnx.load(str(paths["onnx"]))
    assert spec_from_onnx(graph, "yolox_nano.onnx") == YOLOXSpec("nano", (416, 416), 80)
    depthwise = [n for n in graph.graph.node if n.op_type == "Conv"
                 and any(a.name == "group" and a.i > 1 for a in n.attribute)]
    # backbone: 4 downsamplings + bottlenecks (1+3+3+1); neck: 2 downsamplings + 4 CSP layers' bottlenecks;
    # head: 2 + 2 per level
    assert len(depthwise) == 4 + (1 + 3 + 3 + 1) + 2 + 4 + 12
    spec, state = load_weights(paths["pth"], cache=False)
    assert spec == YOLOXSpec("nano", (416, 416), 80)
    assert state["backbone.backbone.dark2.0.dconv.conv.weight"].shape == (16, 1, 3, 3)
    assert state["backbone.backbone.dark2.0.pconv.conv.weight"].shape == (32, 16, 1, 1)


def test_only_nano_has_depthwise_convolutions():
    with torch.device("meta"):
        nets = {v: YOLOX(YOLOXSpec(v)) for v in ("nano", "tiny", "s", "m", "l", "x")}
    for variant, net in nets.items():
        has = any(isinstance(m, DWConv) for m in net.modules())
        assert has == (variant == "nano"), variant
    # published parameter counts (YOLOX README, 80 classes): Nano 0.91 M, Tiny 5.06 M, S 9.0 M, M 25.3 M,
    # L 54.2 M, X 99.1 M
    published = {"nano": 0.91, "tiny": 5.06, "s": 9.0, "m": 25.3, "l": 54.2, "x": 99.1}
    for variant, net in nets.items():
        millions = sum(p.numel() for p in net.parameters()) / 1e6
        assert millions == pytest.approx(published[variant], rel=0.02), variant
