"""TorchModel: the InferenceModel contract, devices, precisions, memory, on-device crops, backend auto rule."""
from __future__ import annotations

import gc
import importlib.util
import weakref

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dwpose_core import backends  # noqa: E402
from dwpose_core.backends import BackendError, InferenceModel, choose_backend  # noqa: E402
from dwpose_core.backends import torch_backend  # noqa: E402
from dwpose_core.backends.torch_backend import TorchModel, accelerator_available, resolve_device  # noqa: E402
from dwpose_core.torch_models.preprocess import invert_affine, letterbox, warp_crops  # noqa: E402

MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
CV2_FLOAT_WARP = tuple(int(p) for p in cv2.__version__.split(".")[:2]) >= (4, 11)
# OpenCV >= 4.11 warps in floating point like we do: at most one grey level apart (rounding of
# ties). Older versions use 1/32-pixel fixed-point coordinates: up to 3 levels at sharp edges.
WARP_TOL = 1 if CV2_FLOAT_WARP else 3


def smooth_image(rng, h, w):
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return cv2.GaussianBlur(img, (0, 0), 1.5)


def random_affines(rng, n, frame_hw, out_hw):
    """Forward affines (frame -> crop) with scale, rotation and boxes poking out of the frame."""
    mats = []
    for _ in range(n):
        s, th = rng.uniform(0.4, 2.5), rng.uniform(-0.5, 0.5)
        cx, cy = rng.uniform(-0.2, 1.2) * frame_hw[1], rng.uniform(-0.2, 1.2) * frame_hw[0]
        a = np.array([[s * np.cos(th), -s * np.sin(th)], [s * np.sin(th), s * np.cos(th)]])
        t = np.array([out_hw[1] / 2, out_hw[0] / 2]) - a @ np.array([cx, cy])
        mats.append(np.concatenate([a, t[:, None]], axis=1))
    return np.stack(mats)


# ----------------------------------------------------------------------------- contract

def test_torch_model_implements_the_backend_interface(models_dir):
    model = TorchModel(models_dir.get("dw-tt_ucoco"), device="cpu")
    assert isinstance(model, InferenceModel)
    assert (model.input_name, model.input_hw, model.max_batch) == ("input", (256, 192), None)
    assert list(model.output_names) == ["simcc_x", "simcc_y"]
    assert (model.info.backend, model.info.device, model.info.precision) == ("torch", "cpu", "fp32")
    empty = model.run(np.zeros((0, 3, 256, 192), np.float32))
    assert empty["simcc_x"].shape == (0, 133, 384) and empty["simcc_y"].shape == (0, 133, 512)


def test_wrong_input_size_is_a_clear_error(models_dir):
    model = TorchModel(models_dir.get("dw-tt_ucoco"), device="cpu")
    with pytest.raises(BackendError, match=r"\(N, 3, 256, 192\)"):
        model.run(np.zeros((1, 3, 384, 288), np.float32))


def test_unknown_precision_and_invisible_devices_are_errors(models_dir, monkeypatch):
    with pytest.raises(BackendError, match="precision"):
        TorchModel(models_dir.get("dw-tt_ucoco"), device="cpu", precision="int8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendError, match="cannot see the device 'cuda:0'"):
        resolve_device("cuda:0")
    with pytest.raises(BackendError, match="Unknown torch device"):
        resolve_device("gpu please")
    assert resolve_device(None).type in ("cpu", "mps", "xpu")


def test_device_strings_resolve_when_the_device_exists(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("auto") == torch.device("cuda")
    assert accelerator_available() and accelerator_available("cuda") and not accelerator_available("cpu")
    with pytest.raises(BackendError, match="2 CUDA device"):
        resolve_device("cuda:2")


def test_release_frees_the_weights(models_dir):
    model = TorchModel(models_dir.get("dw-tt_ucoco"), device="cpu")
    weight = weakref.ref(next(model.net.parameters()))
    model.release()
    gc.collect()
    assert weight() is None
    with pytest.raises(BackendError, match="released"):
        model.run(np.zeros((1, 3, 256, 192), np.float32))


def test_offload_keeps_weights_on_cpu_between_runs(models_dir, monkeypatch):
    calls = []
    model = TorchModel(models_dir.get("dw-tt_ucoco"), device="cpu", offload=True)
    monkeypatch.setattr(model, "offload", lambda: calls.append("offload"))
    model.run(np.zeros((1, 3, 256, 192), np.float32))
    assert calls == ["offload"] and next(model.net.parameters()).device.type == "cpu"


def test_out_of_memory_halves_the_chunk(models_dir, monkeypatch):
    model = TorchModel(models_dir.get("dw-tt_ucoco"), device="cpu", chunk_size=8)
    real = model._forward
    sizes = []

    def flaky(x):
        sizes.append(x.shape[0])
        if x.shape[0] > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(x)

    monkeypatch.setattr(model, "_forward", flaky)
    batch = np.random.default_rng(0).normal(size=(5, 3, 256, 192)).astype(np.float32)
    out = model.run(batch)
    assert sizes[:3] == [5, 4, 2] and model.chunk_size == 2
    monkeypatch.setattr(model, "_forward", real)
    np.testing.assert_allclose(out["simcc_x"], model.run(batch)["simcc_x"], atol=1e-5)


# ----------------------------------------------------------------------------- on-device crops

def test_warp_matches_opencv_warpaffine():
    rng = np.random.default_rng(0)
    frames = [smooth_image(rng, 120, 160), smooth_image(rng, 120, 160)]
    out_hw = (64, 48)
    mats = random_affines(rng, 12, (120, 160), out_hw)
    index = rng.integers(0, 2, 12)
    stack = torch.from_numpy(np.stack(frames))
    got = warp_crops(stack, torch.from_numpy(index), torch.from_numpy(invert_affine(mats).astype(np.float32)),
                     out_hw).numpy()
    for i in range(12):
        ref = cv2.warpAffine(frames[index[i]], mats[i], (out_hw[1], out_hw[0]), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        diff = np.abs(got[i] - ref.astype(np.float32))
        assert diff.max() <= WARP_TOL, f"crop {i}: max diff {diff.max()}"
        assert (diff > 0).mean() < 0.01, f"crop {i}: {(diff > 0).mean():.2%} of values differ"


def test_inverse_affine_matches_opencv():
    mats = random_affines(np.random.default_rng(1), 5, (100, 100), (64, 48))
    for m, inv in zip(mats, invert_affine(mats)):
        np.testing.assert_allclose(inv, cv2.invertAffineTransform(m), rtol=1e-12, atol=1e-9)


def test_warp_and_run_equals_run_on_opencv_crops(models_dir):
    rng = np.random.default_rng(2)
    # Frames of different sizes in one call; crops near and across the borders.
    frames = [smooth_image(rng, 200, 150), smooth_image(rng, 90, 260), smooth_image(rng, 200, 150)]
    index = np.array([0, 1, 2, 1, 0])
    mats = np.stack([random_affines(rng, 1, frames[i].shape[:2], (256, 192))[0] for i in index])
    model = TorchModel(models_dir.get("dw-tt_ucoco"), device="cpu", chunk_size=2)
    on_device = model.warp_and_run(frames, index, mats, MEAN, STD)
    crops = np.stack([((cv2.warpAffine(frames[i], m, (192, 256), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
                        .astype(np.float32) - MEAN) / STD).transpose(2, 0, 1) for i, m in zip(index, mats)])
    reference = model.run(crops)
    for name in ("simcc_x", "simcc_y"):
        err = np.abs(on_device[name] - reference[name]).max() / np.ptp(reference[name])
        assert err < (1e-4 if CV2_FLOAT_WARP else 2e-2), f"{name}: {err:.2e}"


def test_letterbox_on_device_matches_the_detector_preprocessing():
    from dwpose_core.stages.detection import letterbox as cv2_letterbox

    rng = np.random.default_rng(3)
    frames = [smooth_image(rng, 300, 500), smooth_image(rng, 480, 200)]
    batch, ratios = letterbox(frames, (640, 640), torch.device("cpu"), torch.float32, bgr=True)
    for frame, got, r in zip(frames, batch.numpy(), ratios):
        canvas, ref_r = cv2_letterbox(frame, (640, 640))
        assert r == pytest.approx(ref_r)
        ref = canvas[:, :, ::-1].transpose(2, 0, 1).astype(np.float32)  # BGR, CHW
        diff = np.abs(got - ref)
        # cv2.resize works in 11-bit fixed point (or IPP); we interpolate in float: a grey level apart.
        assert diff.max() <= 2 and diff.mean() < 0.2


def test_letterbox_and_run_equals_run_on_cpu_letterbox(models_dir):
    from dwpose_core.stages.detection import PersonDetector

    rng = np.random.default_rng(4)
    frames = [smooth_image(rng, 300, 500), smooth_image(rng, 500, 300)]
    model = TorchModel(models_dir.get("yolox_tiny"), device="cpu")
    out, ratios = model.letterbox_and_run(frames)
    detector = PersonDetector(model)
    prepared = [detector.preprocess(f) for f in frames]
    ref = model.run(np.stack([p[0] for p in prepared]))["output"]
    np.testing.assert_allclose(ratios, [p[1] for p in prepared])
    assert np.abs(out["output"] - ref).max() < 0.05 * np.ptp(ref)


# ----------------------------------------------------------------------------- backend "auto"

def test_auto_takes_torch_for_checkpoints_and_ort_for_graphs_torch_cannot_run(models_dir, tmp_path):
    from oracles import make_pose

    assert choose_backend(models_dir.get("dw-tt_ucoco", "pth")) == "torch"
    assert choose_backend(make_pose(tmp_path / "oracle.onnx", (256, 192))) == "onnxruntime"


def test_auto_takes_torch_on_an_accelerator(models_dir, monkeypatch, tmp_path):
    from oracles import make_pose

    monkeypatch.setattr(torch_backend, "accelerator_available", lambda device=None: True)
    assert choose_backend(models_dir.get("dw-tt_ucoco")) == "torch"
    assert choose_backend(models_dir.get("yolox_tiny")) == "torch"
    # ...but not for graphs it does not implement.
    assert choose_backend(make_pose(tmp_path / "oracle.onnx", (256, 192))) == "onnxruntime"


def test_auto_takes_ort_with_a_working_accelerator_provider(models_dir, monkeypatch):
    from dwpose_core.backends import ort_backend

    monkeypatch.setattr(torch_backend, "accelerator_available", lambda device=None: False)
    monkeypatch.setattr(ort_backend, "available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])

    class Session:
        def __init__(self, providers):
            self.providers = providers

        def get_providers(self):
            return self.providers

    path = models_dir.get("dw-tt_ucoco")
    monkeypatch.setattr(ort_backend, "get_session", lambda p, providers: Session(providers))
    assert choose_backend(path) == "onnxruntime"
    # Listed but not starting (wrong CUDA): ONNX Runtime would refuse it, torch runs on the CPU.
    monkeypatch.setattr(ort_backend, "get_session", lambda p, providers: Session(["CPUExecutionProvider"]))
    assert choose_backend(path) == "torch"


def test_auto_on_cpu_takes_the_measured_faster_backend(models_dir, monkeypatch):
    monkeypatch.setattr(torch_backend, "accelerator_available", lambda device=None: False)
    monkeypatch.setattr("dwpose_core.backends.ort_backend.available_providers", lambda: ["CPUExecutionProvider"])
    path = models_dir.get("dw-tt_ucoco")
    assert choose_backend(path) == "onnxruntime"  # its CPU provider measured faster (README, "Backend auto")
    assert choose_backend(path, device="cpu") == "onnxruntime"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a))
    assert choose_backend(path) == "torch"  # no onnxruntime at all
    model = backends.load_model(path, backend="auto", device="cpu")
    try:
        assert model.info.backend == "torch"
    finally:
        backends.release_all()


def test_pipeline_runs_on_the_torch_backend_like_onnxruntime(models_dir):
    """The lead's pipeline (pose stage via warp_and_run) gives ORT's keypoints on the same weights."""
    from dwpose_core.pipeline import WholeBodyEstimator

    rng = np.random.default_rng(5)
    frames = [smooth_image(rng, 240, 180), smooth_image(rng, 200, 300)]
    path = models_dir.get("dw-tt_ucoco", "dynamic")
    ours = WholeBodyEstimator(detector=None, pose=path, backend="torch", device="cpu", download=False)
    ref = WholeBodyEstimator(detector=None, pose=path, backend="onnxruntime", download=False)
    try:
        for a, b in zip(ours(frames), ref(frames)):
            pa, pb = a.people[0], b.people[0]
            np.testing.assert_allclose(pa.scores, pb.scores, atol=1e-3 * np.ptp(pb.scores))
            same = np.all(pa.keypoints == pb.keypoints, axis=1)
            assert same.mean() > 0.97, f"{(~same).sum()} keypoints moved (near-ties on random weights)"
    finally:
        ours.release()
        ref.release()


def test_detector_letterboxes_on_the_device_when_the_model_is_on_an_accelerator(models_dir, monkeypatch):
    from dwpose_core.backends.base import BackendInfo
    from dwpose_core.stages.detection import DetectionThresholds, PersonDetector

    rng = np.random.default_rng(6)
    frames = [smooth_image(rng, 300, 500), smooth_image(rng, 480, 320)]
    model = TorchModel(models_dir.get("yolox_tiny"), device="cpu")
    calls = []
    real_run, real_lb = model.run, model.letterbox_and_run
    monkeypatch.setattr(model, "run", lambda batch: calls.append("run") or real_run(batch))
    monkeypatch.setattr(model, "letterbox_and_run", lambda *a, **k: calls.append("device") or real_lb(*a, **k))
    loose = DetectionThresholds(candidate=0.0, nms_iou=0.45, keep=0.0)  # random weights: keep everything
    on_cpu = PersonDetector(model)(frames, loose)
    assert calls == ["run"]  # a CPU torch model letterboxes with OpenCV
    calls.clear()
    monkeypatch.setattr(model, "info", BackendInfo("torch", "cuda:0", "fp16"))
    on_device = PersonDetector(model)(frames, loose)
    assert calls == ["device"]
    for (boxes_a, _), (boxes_b, _), frame in zip(on_cpu, on_device, frames):
        assert len(boxes_b) > 0
        # ratios are the same, so the best box lands in the same place within a pixel or two
        assert np.abs(boxes_a[0] - boxes_b[0]).max() < 0.02 * max(frame.shape)


# ----------------------------------------------------------------------------- no silent CPU

@pytest.mark.parametrize("option,named,fix", [("--device", "--device cuda", "--device cpu"),
                                               ("device", "device 'cuda'", "set device to 'cpu'")])
def test_asking_for_an_accelerator_torch_cannot_see_is_an_error_not_a_cpu_run(models_dir, monkeypatch, option,
                                                                              named, fix):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("dwpose_core.backends.ort_backend.available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(backends.DeviceError) as err:  # a BackendError no caller may answer with a CPU run
        backends.load_model(models_dir.get("dw-tt_ucoco"), backend="auto", device="cuda", option_name=option)
    message = str(err.value)
    assert message.startswith(f"{named}: torch {torch.__version__} cannot see a CUDA device")
    assert fix in message and "\n" not in message


def test_explicit_torch_backend_on_an_invisible_device_names_the_setting(models_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendError, match=r"^--device cuda:0: torch cannot see the device 'cuda:0'.*--device cpu"):
        backends.load_model(models_dir.get("dw-tt_ucoco"), backend="torch", device="cuda:0", option_name="--device")


def test_accelerator_torch_sees_but_cannot_run_falls_to_ort_only_on_that_gpu(monkeypatch, tmp_path):
    from oracles import make_pose

    from dwpose_core.backends import plan as choice

    monkeypatch.setattr(torch_backend, "accelerator_available", lambda device=None: True)
    monkeypatch.setattr("dwpose_core.backends.ort_backend.available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(BackendError, match="does not implement"):
        choice.plan_backend(make_pose(tmp_path / "oracle.onnx"), "cuda")
