"""torch backend vs ONNX Runtime on the same architecture-faithful random weights (CPU).

Weights come from tools/make_test_models.py (fixed seed), loaded into the torch
modules both from the exported ONNX file and from the mmengine-style .pth.
fp32 outputs must agree within 1e-4 of each output's range; decoded SimCC
argmaxes must agree wherever the top two bins are clearly apart (near-ties are
counted and reported, never hidden); fp16 / bf16 within the stated tolerances.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dwpose_core.backends.torch_backend import TorchModel  # noqa: E402

FP32_TOL = 1e-4  # of each output's range
# Half precision keeps ~3 decimal digits, bfloat16 ~2; errors accumulate over ~60 conv layers.
HALF_TOL = {"fp16": 3e-3, "bf16": 2e-2}


def ort_run(path: Path, batch: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    fixed = session.get_inputs()[0].shape[0] == 1
    chunks = [batch[i:i + 1] for i in range(len(batch))] if fixed else [batch]
    outs = [session.run(names, {session.get_inputs()[0].name: c}) for c in chunks]
    return {n: np.concatenate([o[i] for o in outs]) for i, n in enumerate(names)}


def relative_error(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(ours - ref).max() / (ref.max() - ref.min()))


def pose_batch(n: int, hw=(256, 192), seed: int = 1) -> np.ndarray:
    """Normalised-image-like inputs: smooth random RGB images through the ImageNet normalisation."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (n, 3, hw[0] // 16, hw[1] // 16)).astype(np.float32)
    img = np.repeat(np.repeat(coarse, 16, axis=2), 16, axis=3)
    img += rng.normal(0, 10, img.shape).astype(np.float32)
    mean = np.array([123.675, 116.28, 103.53], np.float32).reshape(1, 3, 1, 1)
    std = np.array([58.395, 57.12, 57.375], np.float32).reshape(1, 3, 1, 1)
    return (img - mean) / std


def argmax_agreement(ours: np.ndarray, ref: np.ndarray, margin: float):
    """(disagreements among clear cases, number of near-ties) for argmax over the last axis."""
    top2 = np.sort(ref, axis=-1)[..., -2:]
    clear = (top2[..., 1] - top2[..., 0]) > margin
    differ = ours.argmax(-1) != ref.argmax(-1)
    return int((differ & clear).sum()), int((~clear).sum())


@pytest.mark.parametrize("source", ["onnx", "pth"])
def test_rtmpose_t_matches_onnxruntime_fp32(models_dir, source, record_property):
    batch = pose_batch(3)
    ref = ort_run(models_dir.get("dw-tt_ucoco", "dynamic"), batch)
    model = TorchModel(models_dir.get("dw-tt_ucoco", source), device="cpu", cache=False)
    out = model.run(batch)
    for name in ("simcc_x", "simcc_y"):
        assert out[name].shape == ref[name].shape
        assert relative_error(out[name], ref[name]) < FP32_TOL, name
        margin = FP32_TOL * (ref[name].max() - ref[name].min())
        wrong, ties = argmax_agreement(out[name], ref[name], margin)
        record_property(f"{source}_{name}_near_ties", ties)
        assert wrong == 0, f"{name}: {wrong} clear argmaxes differ ({ties} near-ties of {ref[name][..., 0].size})"
        assert ties < 0.05 * ref[name][..., 0].size, f"{ties} near-ties: the random model is degenerate"


def test_published_batch1_file_runs_any_batch_in_torch(models_dir):
    # The published files have batch fixed to 1; the torch backend is not bound by that.
    batch = pose_batch(4, seed=2)
    model = TorchModel(models_dir.get("dw-tt_ucoco", "onnx"), device="cpu")
    assert model.max_batch is None and model.input_hw == (256, 192)
    out = model.run(batch)
    ref = ort_run(models_dir.get("dw-tt_ucoco", "onnx"), batch)
    assert relative_error(out["simcc_x"], ref["simcc_x"]) < FP32_TOL


def test_chunked_batches_equal_one_batch(models_dir):
    batch = pose_batch(5, seed=3)
    whole = TorchModel(models_dir.get("dw-tt_ucoco", "onnx"), device="cpu", chunk_size=8).run(batch)
    chunked = TorchModel(models_dir.get("dw-tt_ucoco", "onnx"), device="cpu", chunk_size=2).run(batch)
    for name in whole:
        np.testing.assert_allclose(chunked[name], whole[name], rtol=0, atol=1e-5 * np.ptp(whole[name]))


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_rtmpose_half_precisions_within_tolerance(models_dir, precision, record_property):
    batch = pose_batch(2, seed=4)
    ref = ort_run(models_dir.get("dw-tt_ucoco", "dynamic"), batch)
    try:
        model = TorchModel(models_dir.get("dw-tt_ucoco", "onnx"), device="cpu", precision=precision)
        out = model.run(batch)
    except (RuntimeError, NotImplementedError) as exc:  # an op without a CPU kernel for this dtype
        pytest.skip(f"{precision} not supported on this CPU build of torch: {exc}")
    assert model.info.precision == precision
    for name in ("simcc_x", "simcc_y"):
        err = relative_error(out[name], ref[name])
        record_property(f"{precision}_{name}_rel_error", err)
        assert err < HALF_TOL[precision], f"{name}: {err:.2e}"
        # Argmaxes agree wherever the top two bins are further apart than the tolerance.
        wrong, ties = argmax_agreement(out[name], ref[name], HALF_TOL[precision] * np.ptp(ref[name]))
        record_property(f"{precision}_{name}_near_ties", ties)
        assert wrong == 0, f"{name}: {wrong} clear argmaxes differ in {precision}"


@pytest.mark.parametrize("source", ["onnx", "pth"])
def test_yolox_tiny_matches_onnxruntime(models_dir, source):
    rng = np.random.default_rng(5)
    batch = rng.uniform(0, 255, (2, 3, 416, 416)).astype(np.float32)
    ref = ort_run(models_dir.get("yolox_tiny", "dynamic"), batch)["output"]
    out = TorchModel(models_dir.get("yolox_tiny", source), device="cpu", cache=False).run(batch)["output"]
    assert out.shape == ref.shape == (2, 3549, 85)
    # Per output kind: raw box offsets, sigmoid objectness, sigmoid class scores.
    for sl in (slice(0, 4), slice(4, 5), slice(5, 85)):
        assert relative_error(out[..., sl], ref[..., sl]) < FP32_TOL


def test_yolox_l_matches_onnxruntime(models_dir):
    rng = np.random.default_rng(6)
    batch = rng.uniform(0, 255, (1, 3, 640, 640)).astype(np.float32)
    path = models_dir.get("yolox_l", "onnx")
    ref = ort_run(path, batch)["output"]
    model = TorchModel(path, device="cpu")
    assert (model.input_name, model.input_hw, model.output_names) == ("images", (640, 640), ["output"])
    out = model.run(batch)["output"]
    assert out.shape == (1, 8400, 85)
    for sl in (slice(0, 4), slice(4, 5), slice(5, 85)):
        assert relative_error(out[..., sl], ref[..., sl]) < FP32_TOL
    # The contract: objectness and class scores already through a sigmoid.
    assert out[..., 4:].min() >= 0 and out[..., 4:].max() <= 1


def test_rtmpose_l_384_matches_onnxruntime(models_dir, record_property):
    batch = pose_batch(1, hw=(384, 288), seed=7)
    path = models_dir.get("dw-ll_ucoco_384", "onnx")
    ref = ort_run(path, batch)
    model = TorchModel(path, device="cpu")
    assert model.input_hw == (384, 288)
    out = model.run(batch)
    assert out["simcc_x"].shape == (1, 133, 576) and out["simcc_y"].shape == (1, 133, 768)
    for name in ("simcc_x", "simcc_y"):
        assert relative_error(out[name], ref[name]) < FP32_TOL
        wrong, ties = argmax_agreement(out[name], ref[name], FP32_TOL * np.ptp(ref[name]))
        record_property(f"l384_{name}_near_ties", ties)
        assert wrong == 0
