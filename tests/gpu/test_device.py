"""Checks that need an accelerator: the torch backend on the device at fp16/bf16 against ONNX
Runtime on the CPU (same weights, same crops), on-device crops and letterbox against OpenCV, and
out-of-memory halving with the device's own error.

On a machine where torch sees CUDA they run there (``benchmarks/gpu.py`` runs them first on a lent
GPU); elsewhere the same code runs on the CPU, so that they are exercised on every run before device
time is spent. ``DWPOSE_TEST_DEVICE`` names another device.
"""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

DEVICE = os.environ.get("DWPOSE_TEST_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")

MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
# Half precisions against fp32 ONNX Runtime, as a share of the output's range: fp16 keeps 11
# significant bits, bf16 8; a network of ~100 layers accumulates a few units of the last place.
TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2, "bf16": 6e-2}


def _smooth(rng, h, w):
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 1.5)


def _crops(rng, n, hw):
    frame = _smooth(rng, 400, 300)
    out = []
    for _ in range(n):
        s, th = rng.uniform(0.6, 1.6), rng.uniform(-0.4, 0.4)
        a = np.array([[s * np.cos(th), -s * np.sin(th)], [s * np.sin(th), s * np.cos(th)]])
        t = np.array([hw[1] / 2, hw[0] / 2]) - a @ np.array([150.0, 200.0])
        crop = cv2.warpAffine(frame, np.concatenate([a, t[:, None]], 1), (hw[1], hw[0]))
        out.append(((crop.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1))
    return np.stack(out)


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_pose_on_the_device_matches_onnxruntime_on_the_cpu(models_dir, precision):
    from dwpose_core.backends import load_model, release_model

    path = models_dir.get("dw-tt_ucoco")
    crops = _crops(np.random.default_rng(0), 6, (256, 192))
    reference = load_model(path, backend="onnxruntime", providers="cpu")
    model = load_model(path, backend="torch", device=DEVICE, precision=precision)
    try:
        want = {k: np.concatenate([reference.run(crops[i:i + 1])[k] for i in range(len(crops))])
                for k in ("simcc_x", "simcc_y")}
        got = model.run(crops)
        for name, ref in want.items():
            err = np.abs(got[name].astype(np.float32) - ref).max() / np.ptp(ref)
            assert err < TOLERANCE[precision], f"{precision} {name}: {err:.2e} of the range"
            # the decoded bins agree for almost every keypoint
            same = (got[name].argmax(-1) == ref.argmax(-1)).mean()
            assert same > (0.99 if precision == "fp32" else 0.8), f"{precision} {name}: {same:.1%} same bins"
    finally:
        release_model(model)
        release_model(reference)


def test_on_device_crops_match_opencv():
    from dwpose_core.torch_models.preprocess import invert_affine, warp_crops

    rng = np.random.default_rng(1)
    frames = [_smooth(rng, 120, 160), _smooth(rng, 120, 160)]
    out_hw = (64, 48)
    mats, index = [], rng.integers(0, 2, 10)
    for _ in range(10):
        s = rng.uniform(0.5, 2.0)
        t = np.array([24.0, 32.0]) - s * rng.uniform(0, 1, 2) * np.array([160, 120])
        mats.append(np.array([[s, 0, t[0]], [0, s, t[1]]]))
    mats = np.stack(mats)
    stack = torch.from_numpy(np.stack(frames)).to(DEVICE)
    got = warp_crops(stack, torch.from_numpy(index).to(DEVICE),
                     torch.from_numpy(invert_affine(mats).astype(np.float32)).to(DEVICE), out_hw).cpu().numpy()
    for i in range(len(mats)):
        ref = cv2.warpAffine(frames[index[i]], mats[i], (out_hw[1], out_hw[0]), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        assert np.abs(got[i] - ref).max() <= 3, f"crop {i}"


def test_on_device_letterbox_matches_the_detector_preprocessing():
    from dwpose_core.stages.detection import letterbox as cv2_letterbox
    from dwpose_core.torch_models.preprocess import letterbox

    rng = np.random.default_rng(2)
    frames = [_smooth(rng, 300, 500), _smooth(rng, 480, 200)]
    batch, ratios = letterbox(frames, (640, 640), torch.device(DEVICE), torch.float32, bgr=True)
    for frame, got, r in zip(frames, batch.cpu().numpy(), ratios):
        canvas, ref_r = cv2_letterbox(frame, (640, 640))
        assert r == pytest.approx(ref_r)
        diff = np.abs(got - canvas[:, :, ::-1].transpose(2, 0, 1).astype(np.float32))
        assert diff.max() <= 2 and diff.mean() < 0.2


def test_the_device_out_of_memory_error_halves_the_chunk(models_dir, monkeypatch):
    from dwpose_core.backends import load_model, release_model

    model = load_model(models_dir.get("dw-tt_ucoco"), backend="torch", device=DEVICE, precision="fp32")
    target = model.model if hasattr(model, "model") and hasattr(model.model, "_forward") else model
    real, sizes = target._forward, []
    oom = getattr(torch, "OutOfMemoryError", RuntimeError)

    def flaky(x):
        sizes.append(x.shape[0])
        if x.shape[0] > 2:
            raise oom("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(x)

    batch = np.random.default_rng(3).normal(size=(5, 3, 256, 192)).astype(np.float32)
    try:
        want = target.run(batch)["simcc_x"]
        monkeypatch.setattr(target, "_forward", flaky)
        got = target.run(batch)["simcc_x"]
        assert sizes[:3] == [5, 4, 2] and all(n <= 2 for n in sizes[3:])  # halved until it fits
        np.testing.assert_allclose(got, want, atol=1e-4 * np.ptp(want))
    finally:
        monkeypatch.undo()
        release_model(model)
