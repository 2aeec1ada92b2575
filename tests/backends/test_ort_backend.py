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


# ----------------------------------------------------------------------------- ownership: handles

def _runs(model) -> bool:
    return model.run(np.zeros((1, 3, 256, 192), np.float32))["simcc_x"].shape == (1, 133, 384)


def test_releasing_one_handle_twice_never_frees_a_model_another_holds(tmp_path):
    from dwpose_core.backends import acquire_model, release_model

    path = make_pose(tmp_path / "owned.onnx")
    mine, theirs = acquire_model(path, backend="onnxruntime"), acquire_model(path, backend="onnxruntime")
    assert mine.model is theirs.model  # one shared model, two claims
    mine.release()
    mine.release()  # the second release of the same claim is a no-op...
    release_model(mine)  # ...however it is spelled
    assert _runs(theirs) and theirs.model.session is not None  # ...so the other holder still has it
    theirs.release()
    assert theirs.released and mine.released
    shared = theirs._model
    assert shared.session is None  # freed with its last claim
    fresh = acquire_model(path, backend="onnxruntime")
    assert fresh.model is not shared and _runs(fresh)
    fresh.release()


def test_a_released_handle_refuses_use(tmp_path):
    from dwpose_core.backends import BackendError, acquire_model

    handle = acquire_model(make_pose(tmp_path / "gone.onnx"), backend="onnxruntime")
    assert _runs(handle)  # a handle stands in for the model
    handle.release()
    with pytest.raises(BackendError, match="released"):
        handle.run(np.zeros((1, 3, 256, 192), np.float32))


def test_a_bare_release_cannot_free_a_model_held_through_handles(tmp_path):
    from dwpose_core.backends import acquire_model, release_model

    path = make_pose(tmp_path / "bare.onnx")
    handle = acquire_model(path, backend="onnxruntime")
    bare = load_model(path, backend="onnxruntime")  # the older API: one anonymous hold
    assert bare is handle.model
    release_model(bare)
    release_model(bare)  # more bare releases than bare loads: ignored
    assert _runs(handle)
    handle.release()
    assert bare.session is None


def test_release_all_then_a_stale_handle_release_leaves_new_models_alone(tmp_path):
    from dwpose_core.backends import acquire_model, release_all

    path = make_pose(tmp_path / "stale.onnx")
    stale = acquire_model(path, backend="onnxruntime")
    release_all()  # ComfyUI's "free memory"
    new = acquire_model(path, backend="onnxruntime")
    stale.release()
    assert new.model is not stale._model and _runs(new)
    new.release()


# ----------------------------------------------------------------------------- device wording, no torch

def test_accelerator_without_torch_is_an_error_worded_for_the_cli(tmp_path, monkeypatch):
    from dwpose_core.backends import plan as choice

    monkeypatch.setattr(choice, "torch_installed", lambda: False)
    monkeypatch.setattr("dwpose_core.backends.ort_backend.available_providers", lambda: ["CPUExecutionProvider"])
    path = make_pose(tmp_path / "p.onnx")
    from dwpose_core.backends import DeviceError

    with pytest.raises(DeviceError) as err:
        load_model(path, backend="auto", device="cuda", option_name="--device")
    message = str(err.value)
    assert message.startswith("--device cuda: PyTorch is not installed")
    assert "--device cpu" in message and "onnxruntime-gpu" in message


def test_accelerator_request_uses_the_ort_gpu_provider_when_torch_cannot(tmp_path, monkeypatch):
    from dwpose_core.backends import ort_backend
    from dwpose_core.backends import plan as choice

    monkeypatch.setattr(choice, "torch_installed", lambda: False)
    monkeypatch.setattr(ort_backend, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])

    class Session:
        def get_providers(self):
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    monkeypatch.setattr(ort_backend, "get_session", lambda p, providers: Session())
    path = make_pose(tmp_path / "p.onnx")
    assert choice.plan_backend(path, "cuda") == ("onnxruntime", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(BackendError, match="device='cuda:1'"):  # ORT here serves device 0 only
        choice.plan_backend(path, "cuda:1")


def test_auto_without_torch_imported_or_a_gpu_driver_never_imports_torch(tmp_path):
    """backend auto, no device, torch not imported yet, no accelerator on the system: ONNX Runtime,
    and torch stays out of the process (it costs seconds of start-up)."""
    import subprocess
    import sys
    from pathlib import Path

    path = make_pose(tmp_path / "p.onnx")
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys, numpy as np\n"
        "from dwpose_core.backends import plan as choice, acquire_model\n"
        "choice.system_may_have_accelerator = lambda: False\n"
        f"m = acquire_model({str(path)!r})\n"
        "m.run(np.zeros((1, 3, 256, 192), np.float32))\n"
        "assert m.info.backend == 'onnxruntime', m.info\n"
        "assert choice.choose_backend(m.path, 'cpu') == 'onnxruntime'\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("option,value,named,fix", [
    ("--device", "cuda", "--device cuda", "--device cpu"),
    ("device", "cuda", "device 'cuda'", "set device to 'cpu'"),
    (None, "cuda:0", "device='cuda:0'", "device='cpu'"),
])
def test_device_settings_are_named_as_the_user_wrote_them(option, value, named, fix):
    from dwpose_core.backends.plan import setting, suggest

    assert setting(option, value) == named and suggest(option) == fix


def test_unknown_device_is_an_error_naming_the_setting():
    from dwpose_core.backends.plan import device_kind

    with pytest.raises(BackendError, match="--device gpu please: Unknown torch device"):
        device_kind("gpu please", "--device")
    assert [device_kind(d) for d in (None, "", "auto", "cpu", "CUDA:1", "mps", "xpu")] == \
        [None, None, None, "cpu", "cuda", "mps", "xpu"]
