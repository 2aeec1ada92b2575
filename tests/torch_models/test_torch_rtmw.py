"""RTMW (CSPNeXt + CSPNeXtPAFPN + RTMW head) and the RTMPose-m hand5 model in the torch backend vs
ONNX Runtime on the same architecture-faithful random weights (CPU).

Files come from tools/make_test_models.py (fixed seed): ONNX as an exporter writes it (BatchNorm
folded, batch 1 and dynamic) and an mmengine-style training checkpoint (unfused conv + BatchNorm,
AdamW state, message hub with a non-tensor object) read by the restricted reader. fp32 outputs must
agree within 1e-4 of each output's range and decoded argmaxes wherever the top two bins are clearly
apart; fp16 / bf16 within the tolerances of test_torch_parity. mmpose's own RTMW is compared in
test_torch_mmpose.py (when mmpose is installed).
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from dwpose_core.backends.torch_backend import TorchModel  # noqa: E402
from dwpose_core.checkpoints.pth_reader import Checkpoint  # noqa: E402
from dwpose_core.stages.pose import MEAN, STD, WholeBodyPoseModel, box_to_center_scale, crops, warp_matrices  # noqa: E402
from dwpose_core.torch_models.loading import load_weights  # noqa: E402
from tests.torch_models.test_torch_parity import (  # noqa: E402
    FP32_TOL, HALF_TOL, argmax_agreement, ort_run, pose_batch, relative_error)


@pytest.fixture(scope="module")
def rtmw_m_full(tmp_path_factory):
    """RTMW-m with a full training checkpoint (optimizer moments: ~3x the weights, like the published ones)."""
    from tools.make_test_models import make

    out = tmp_path_factory.mktemp("rtmw_m_full")
    return make("rtmw-m_256x192", out, ("onnx", "dynamic", "pth"), seed=3, lean=False)


def _compare_fp32(out, ref, record_property, label):
    for name in ("simcc_x", "simcc_y"):
        assert out[name].shape == ref[name].shape, name
        err = relative_error(out[name], ref[name])
        record_property(f"{label}_{name}_rel_error", err)
        assert err < FP32_TOL, f"{name}: {err:.2e}"
        wrong, ties = argmax_agreement(out[name], ref[name], FP32_TOL * np.ptp(ref[name]))
        assert wrong == 0, f"{name}: {wrong} clear argmaxes differ"
        assert ties < 0.05 * ref[name][..., 0].size, f"{ties} near-ties: the random model is degenerate"


@pytest.mark.parametrize("source", ["onnx", "pth"])
def test_rtmw_m_matches_onnxruntime_fp32(rtmw_m_full, source, record_property):
    batch = pose_batch(3, hw=(256, 192), seed=11)
    ref = ort_run(rtmw_m_full["dynamic"], batch)
    model = TorchModel(rtmw_m_full[source], device="cpu", cache=False)
    assert model.spec.arch == "rtmw" and model.spec.variant == "m" and model.input_hw == (256, 192)
    _compare_fp32(model.run(batch), ref, record_property, f"rtmw_m_{source}")


def test_rtmw_checkpoint_is_a_full_mmengine_file(rtmw_m_full):
    # The restricted reader opens the whole training checkpoint (message hub object, optimizer moments)
    # that weights_only loading refuses; the weights come out unfused and are folded at load.
    with pytest.raises(Exception):
        torch.load(rtmw_m_full["pth"], weights_only=True)
    with Checkpoint(rtmw_m_full["pth"]) as ckpt:
        assert {"state_dict", "optimizer", "message_hub", "meta"} <= set(ckpt.root)
        keys = set(ckpt.root["state_dict"])
    assert {"neck.reduce_layers.0.bn.running_var", "head.final_layer2.bn.weight", "head.mlp2.1.weight",
            "head.conv_dec.conv.weight"} <= keys
    spec, state = load_weights(rtmw_m_full["pth"], cache=False)
    assert spec.arch == "rtmw" and not any(".bn." in k for k in state)


def test_rtmw_l_256_and_384_match_onnxruntime(models_dir, record_property):
    for stem, hw in (("rtmw-l_256x192", (256, 192)), ("rtmw-l_384x288", (384, 288))):
        batch = pose_batch(2, hw=hw, seed=12)
        ref = ort_run(models_dir.get(stem, "dynamic"), batch)
        for source in ("onnx", "pth"):
            model = TorchModel(models_dir.get(stem, source), device="cpu", cache=False)
            assert (model.spec.arch, model.spec.variant, model.input_hw) == ("rtmw", "l", hw)
            _compare_fp32(model.run(batch), ref, record_property, f"{stem}_{source}")


def test_published_batch1_rtmw_file_runs_any_batch(rtmw_m_full):
    batch = pose_batch(4, hw=(256, 192), seed=13)
    model = TorchModel(rtmw_m_full["onnx"], device="cpu", chunk_size=3)
    assert model.max_batch is None
    out = model.run(batch)
    ref = ort_run(rtmw_m_full["onnx"], batch)  # fed one crop at a time
    assert relative_error(out["simcc_x"], ref["simcc_x"]) < FP32_TOL


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_rtmw_half_precisions_within_tolerance(rtmw_m_full, precision, record_property):
    batch = pose_batch(2, hw=(256, 192), seed=14)
    ref = ort_run(rtmw_m_full["dynamic"], batch)
    try:
        model = TorchModel(rtmw_m_full["onnx"], device="cpu", precision=precision)
        out = model.run(batch)
    except (RuntimeError, NotImplementedError) as exc:
        pytest.skip(f"{precision} not supported on this CPU build of torch: {exc}")
    # the token part of the head stays float32
    assert model.net.head.gau.uv.weight.dtype == torch.float32
    assert model.net.neck.reduce_layers[0].conv.weight.dtype == model.dtype
    for name in ("simcc_x", "simcc_y"):
        err = relative_error(out[name], ref[name])
        record_property(f"{precision}_{name}_rel_error", err)
        assert err < HALF_TOL[precision], f"{name}: {err:.2e}"
        wrong, _ = argmax_agreement(out[name], ref[name], HALF_TOL[precision] * np.ptp(ref[name]))
        assert wrong == 0


@pytest.mark.parametrize("source", ["onnx", "dynamic", "pth"])  # dynamic: output shapes partly symbolic
def test_hand5_model_matches_onnxruntime(models_dir, source, record_property):
    batch = pose_batch(3, hw=(256, 256), seed=15)
    ref = ort_run(models_dir.get("rtmpose-m_hand5_256x256", "dynamic"), batch)
    model = TorchModel(models_dir.get("rtmpose-m_hand5_256x256", source), device="cpu", cache=False)
    assert (model.spec.arch, model.spec.num_keypoints, model.input_hw) == ("rtmpose", 21, (256, 256))
    out = model.run(batch)
    assert out["simcc_x"].shape == (3, 21, 512) and out["simcc_y"].shape == (3, 21, 512)
    _compare_fp32(out, ref, record_property, f"hand5_{source}")


def test_rtmw_on_device_crops_match_opencv_crops(rtmw_m_full):
    # The pose stage through the torch backend warps on the device; the same boxes through ONNX Runtime
    # use OpenCV crops. Both must give the same network outputs within the crop-rounding tolerance.
    rng = np.random.default_rng(16)
    frame = np.repeat(np.repeat(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), 16, 0), 16, 1)
    boxes = np.array([[40.0, 30.0, 300.0, 460.0], [350.0, 60.0, 620.0, 470.0]])
    model = TorchModel(rtmw_m_full["onnx"], device="cpu")
    stage = WholeBodyPoseModel(model)
    center, scale = box_to_center_scale(boxes, 192 / 256)
    mats = warp_matrices(center, scale, (256, 192))
    ref = ort_run(rtmw_m_full["dynamic"], crops([frame], np.zeros(2, np.int64), mats, (256, 192)))
    on_device = model.warp_and_run([frame], np.zeros(2, np.int64), mats, MEAN, STD)
    for name in ("simcc_x", "simcc_y"):
        assert relative_error(on_device[name], ref[name]) < 2e-2  # crops may differ by a grey level
    kp, sc = stage([frame], np.zeros(2, np.int64), boxes)
    assert kp.shape == (2, 133, 2) and sc.shape == (2, 133)


def test_hand_model_refused_as_whole_body_model(models_dir):
    stage = WholeBodyPoseModel(TorchModel(models_dir.get("rtmpose-m_hand5_256x256", "onnx"), device="cpu"))
    with pytest.raises(ValueError, match="hand model"):
        stage([np.zeros((64, 64, 3), np.uint8)], np.zeros(1, np.int64), np.array([[0.0, 0.0, 64.0, 64.0]]))
