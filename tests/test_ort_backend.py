import threading

import numpy as np
import pytest

from dwpose_core.backends import BackendError, load_model
from dwpose_core.backends.ort_backend import OrtModel, resolve_providers
from oracles import make_pose


def test_auto_picks_cpu_when_no_accelerator(monkeypatch):
    monkeypatch.setattr("dwpose_core.backends.ort_backend.available_providers", lambda: ["CPUExecutionProvider"])
    assert resolve_providers("auto") == ["CPUExecutionProvider"]


def test_auto_prefers_cuda_over_cpu(monkeypatch):
    monkeypatch.setattr("dwpose_core.backends.ort_backend.available_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    assert resolve_providers("auto") == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_missing_gpu_provider_is_an_error_not_a_fallback(monkeypatch):
    monkeypatch.setattr("dwpose_core.backends.ort_backend.available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(BackendError, match="onnxruntime-gpu"):
        resolve_providers("cuda")
    with pytest.raises(BackendError, match="CUDAExecutionProvider"):
        resolve_providers(["CUDAExecutionProvider"])


def test_model_reads_size_and_batch_from_graph(tmp_path):
    fixed = OrtModel(make_pose(tmp_path / "a.onnx", (384, 288)))
    dynamic = OrtModel(make_pose(tmp_path / "b.onnx", (256, 192), dynamic_batch=True))
    assert (fixed.input_hw, fixed.max_batch, fixed.input_name) == ((384, 288), 1, "input")
    assert (dynamic.input_hw, dynamic.max_batch) == ((256, 192), None)
    assert fixed.info.backend == "onnxruntime" and fixed.info.device == "CPUExecutionProvider"
    out = fixed.run(np.zeros((3, 3, 384, 288), np.float32))  # more than the fixed batch: split
    assert out["simcc_x"].shape == (3, 133, 576) and out["simcc_y"].shape == (3, 133, 768)


def test_models_are_created_once_and_shared_across_threads(tmp_path):
    path = make_pose(tmp_path / "shared.onnx")
    got = []
    threads = [threading.Thread(target=lambda: got.append(load_model(path, backend="onnxruntime"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in got}) == 1
    assert load_model(str(path), backend="onnxruntime") is got[0]


def test_choice_is_logged_once(tmp_path, caplog):
    path = make_pose(tmp_path / "logged.onnx")
    with caplog.at_level("INFO", logger="dwpose"):
        load_model(path, backend="onnxruntime")
        load_model(path, backend="onnxruntime")
    lines = [r for r in caplog.records if "runs with" in r.getMessage()]
    assert len(lines) == 1 and "CPUExecutionProvider" in lines[0].getMessage()


def test_corrupt_onnx_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    with pytest.raises(BackendError, match="corrupt"):
        OrtModel(bad)


def test_a_shared_model_is_freed_only_when_its_last_holder_releases(tmp_path):
    from dwpose_core.backends import release_model

    path = make_pose(tmp_path / "refcount.onnx")
    first = load_model(path, backend="onnxruntime")
    second = load_model(path, backend="onnxruntime")
    assert first is second
    release_model(first)
    assert second.run(np.zeros((1, 3, 256, 192), np.float32))["simcc_x"].shape == (1, 133, 384)
    release_model(second)
    assert second.session is None
    assert load_model(path, backend="onnxruntime") is not first  # a fresh one after the last release
