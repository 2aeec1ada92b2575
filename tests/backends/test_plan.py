"""The backend plan: one decision per model file (backend, device or providers, precision, derived
graph, reasons), executed by loading without asking again; no import cycle with the backends."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dwpose_core.backends import BackendError, DeviceError, acquire_model, plan
from dwpose_core.backends.plan import BackendPlan, fallback_backend, make_plan
from oracles import make_detector, make_pose

CPU = "CPUExecutionProvider"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cpu_only(monkeypatch):
    """ONNX Runtime offers its CPU provider only, and torch sees no accelerator."""
    monkeypatch.setattr("dwpose_core.backends.ort_backend.available_providers", lambda: [CPU])
    try:
        import torch
    except ImportError:
        return
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


# ----------------------------------------------------------------------------- the plan for each case

def test_auto_on_the_cpu_with_an_onnx_file_is_onnxruntime_on_its_cpu_provider(tmp_path, cpu_only):
    p = make_plan(make_pose(tmp_path / "p.onnx"), device="cpu", option_name="--device")
    assert isinstance(p, BackendPlan)
    assert (p.backend, p.requested, p.providers, p.device, p.precision) == ("onnxruntime", "auto", (CPU,), None, "fp32")
    assert p.derived_graph is None and p.batch == "file"
    assert p.reasons[0] == "backend auto: --device cpu: ONNX Runtime (measured faster than torch on the CPU)"
    assert "no accelerator provider" in p.reasons[1]
    assert str(p.info) == "onnxruntime on CPUExecutionProvider (fp32)"
    assert str(p).startswith("p.onnx runs with onnxruntime on CPUExecutionProvider (fp32): backend auto: --device cpu")


def test_auto_without_a_device_or_a_gpu_driver_is_onnxruntime_and_says_why(tmp_path, cpu_only, monkeypatch):
    monkeypatch.setattr(plan, "torch_imported", lambda: False)
    monkeypatch.setattr(plan, "system_may_have_accelerator", lambda: False)
    p = make_plan(make_pose(tmp_path / "p.onnx"))
    assert p.backend == "onnxruntime" and p.providers == (CPU,)
    assert "no GPU driver on this system" in p.reasons[0]


def test_auto_with_a_checkpoint_is_torch(tmp_path, cpu_only):
    pytest.importorskip("torch")
    checkpoint = tmp_path / "pose.pth"
    checkpoint.write_bytes(b"")  # the plan does not read the file; loading does
    p = make_plan(checkpoint, device="cpu")
    assert (p.backend, p.device, p.providers, p.precision) == ("torch", "cpu", (), "fp32")
    assert p.reasons[0] == "backend auto: pose.pth is a checkpoint; only torch reads it"
    assert str(p.info) == "torch on cpu (fp32)"
    assert make_plan(checkpoint).device == "cpu"  # no device: the best torch sees (here the CPU)


def test_explicit_torch_on_an_onnx_file(tmp_path, cpu_only):
    pytest.importorskip("torch")
    p = make_plan(make_pose(tmp_path / "p.onnx"), "torch", device="cpu", precision="bf16", det_size=320)
    assert (p.backend, p.requested, p.device, p.precision) == ("torch", "torch", "cpu", "bf16")
    assert p.derived_graph is None and p.det_size == 320  # torch runs the weights at any size itself
    assert p.reasons[:2] == ("backend torch as asked", "torch runs on cpu")
    assert str(p).startswith("p.onnx runs with torch on cpu (bf16) at 320x320: ")


def test_onnxruntime_with_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(BackendError, match=r"pose\.pth is not an ONNX file; ONNX Runtime runs \.onnx files only. "
                                           r"Use backend='torch'"):
        make_plan(tmp_path / "pose.pth", "onnxruntime")


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_a_device_that_does_not_exist_is_a_device_error(tmp_path, cpu_only, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    path = make_pose(tmp_path / "p.onnx")
    with pytest.raises(DeviceError, match="^--device gpu please: Unknown torch device"):
        make_plan(path, backend, device="gpu please", option_name="--device")
    if backend == "torch":
        with pytest.raises(DeviceError, match="^device='cuda:7': torch cannot see the device"):
            make_plan(path, backend, device="cuda:7")


def test_unknown_backend_precision_and_batch_are_errors(tmp_path, cpu_only):
    path = make_pose(tmp_path / "p.onnx")
    with pytest.raises(BackendError, match="Unknown backend 'tensorflow'"):
        make_plan(path, "tensorflow")
    with pytest.raises(ValueError, match="batch must be"):
        make_plan(path, "onnxruntime", batch="some")
    pytest.importorskip("torch")
    with pytest.raises(BackendError, match="Unknown precision 'int8'"):
        make_plan(path, "torch", device="cpu", precision="int8")


def test_onnxruntime_plans_its_derived_graphs(tmp_path, cpu_only):
    path = make_pose(tmp_path / "p.onnx")
    sized = make_plan(path, "onnxruntime", det_size=416)
    batched = make_plan(path, "onnxruntime", batch="any")
    assert (sized.derived_graph, batched.derived_graph, batched.batch) == ("det_size", "batch", "any")
    assert "416x416 graph" in sized.reasons[-1] and "dynamic batch" in batched.reasons[-1]
    assert sized.key != batched.key != make_plan(path, "onnxruntime").key
    # the same decision twice is the same value: the cache key
    assert make_plan(path, "onnxruntime", precision="fp16").key == make_plan(path, "onnxruntime").key


def test_fallback_rule(tmp_path):
    torch_plan = BackendPlan(path=tmp_path / "p.onnx", backend="torch", device="cpu")
    ort_plan = BackendPlan(path=tmp_path / "p.onnx", backend="onnxruntime", providers=(CPU,))
    assert fallback_backend("auto", ["det.onnx", "pose.onnx"]) == "onnxruntime"
    assert fallback_backend("auto", [None, "pose.onnx"], torch_plan) == "onnxruntime"
    assert fallback_backend("auto", ["pose.onnx"], ort_plan) is None  # ONNX Runtime failed already
    assert fallback_backend("auto", ["det.onnx", "pose.pth"]) is None
    assert fallback_backend("torch", ["pose.onnx"]) is None


# ----------------------------------------------------------------------------- loading runs the plan

def _count(monkeypatch, owner, name, calls):
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[name] = calls.get(name, 0) + 1
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


def test_loading_decides_once_per_model(tmp_path, cpu_only, monkeypatch):
    from dwpose_core.backends import ort_backend
    from dwpose_core.pipeline import WholeBodyEstimator

    monkeypatch.setenv("DWPOSE_CACHE_DIR", str(tmp_path / "cache"))
    calls: dict[str, int] = {}
    for name in ("make_plan", "_decide_auto"):
        _count(monkeypatch, plan, name, calls)
    _count(monkeypatch, ort_backend, "resolve_providers", calls)
    det = make_detector(tmp_path / "det.onnx", [(10, 10, 100, 100, 0.9)])
    est = WholeBodyEstimator(det, make_pose(tmp_path / "pose.onnx"), device="cpu", download=False)
    try:
        assert calls == {"make_plan": 2, "_decide_auto": 2, "resolve_providers": 2}  # one each per model
        for model in est.models:
            assert model.plan.backend == "onnxruntime" and model.plan.info == model.info
    finally:
        est.release()


def test_loading_a_torch_plan_settles_the_device_once(models_dir, cpu_only, monkeypatch):
    pytest.importorskip("torch")
    from dwpose_core.backends import torch_backend

    calls: dict[str, int] = {}
    _count(monkeypatch, plan, "make_plan", calls)
    _count(monkeypatch, torch_backend, "settle_device", calls)
    _count(monkeypatch, torch_backend, "resolve_device", calls)
    handle = acquire_model(models_dir.get("yolox_tiny"), backend="torch", device="cpu", det_size=320)
    try:
        assert calls == {"make_plan": 1, "settle_device": 1, "resolve_device": 1}
        assert handle.plan.key[1:3] == ("torch", "cpu") and handle.input_hw == (320, 320)
        assert handle.info == handle.plan.info
    finally:
        handle.release()


def test_the_plan_is_on_the_model_and_reads_like_the_log_line(tmp_path, cpu_only, caplog):
    path = make_pose(tmp_path / "shown.onnx")
    with caplog.at_level("DEBUG", logger="dwpose"):
        handle = acquire_model(path, device="cpu")
    try:
        assert handle.plan.summary == f"shown.onnx runs with {handle.info}"
        messages = [r.getMessage() for r in caplog.records]
        assert f"DWPose: shown.onnx runs with {handle.info}" in messages  # the log line, as before
        assert f"DWPose: {handle.plan}" in messages  # and the reasons, at debug level
        assert handle.run(np.zeros((1, 3, 256, 192), np.float32))["simcc_x"].shape[0] == 1
    finally:
        handle.release()


def test_a_load_error_carries_its_plan_and_ort_failures_are_not_retried(tmp_path, cpu_only, monkeypatch):
    import dwpose_core.pipeline as pipeline
    from dwpose_core import estimator_pool

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    with pytest.raises(BackendError, match="corrupt") as err:
        acquire_model(bad, device="cpu")
    assert err.value.plan.backend == "onnxruntime"

    built = []

    def failing(detector, pose, *, backend, **kwargs):
        built.append(backend)
        exc = BackendError("ONNX Runtime could not load it")
        exc.plan = err.value.plan
        raise exc

    monkeypatch.setattr(pipeline, "WholeBodyEstimator", failing)
    with pytest.raises(BackendError, match="could not load"):
        estimator_pool.build_estimator(estimator_pool.ModelSetup(None, "pose.onnx"))
    assert built == ["auto"]  # the plan that failed was ONNX Runtime already: no second try


# ----------------------------------------------------------------------------- no cycles, lazy imports

def test_the_backends_do_not_import_the_plan():
    code = (
        "import sys\n"
        "import dwpose_core.backends.torch_backend, dwpose_core.backends.ort_backend\n"
        "print(sorted(m for m in ('dwpose_core.backends.plan', 'torch', 'onnxruntime') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_plan_is_reachable_from_the_package():
    from dwpose_core import backends

    assert backends.make_plan is make_plan and backends.BackendPlan is BackendPlan
    assert backends.choose_backend is plan.choose_backend
