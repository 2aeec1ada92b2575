"""Weight loading for the torch backend: safe .pth reading, BatchNorm folding, ONNX mapping, errors, cache."""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dwpose_core.torch_models import loading  # noqa: E402
from dwpose_core.torch_models.loading import (ArchitectureMismatch, WeightsFormatError, fold_batchnorm,  # noqa: E402
                                             load_weights, recognise)
from dwpose_core.checkpoints.pth_reader import (Checkpoint, CheckpointFormatError, Placeholder,  # noqa: E402
                                                 UnsafeCheckpointError)
from dwpose_core.torch_models.rtmpose import RTMPoseSpec  # noqa: E402
from dwpose_core.torch_models.yolox import YOLOXSpec  # noqa: E402
from tools.make_test_models import random_checkpoint_state, save_mmengine_checkpoint  # noqa: E402

TINY = RTMPoseSpec("t", (256, 192))


# ----------------------------------------------------------------------------- BatchNorm folding

@pytest.mark.parametrize("conv_bias", [False, True])
def test_folded_conv_equals_conv_then_batchnorm(conv_bias):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 8, 3, padding=1, bias=conv_bias)
    bn = torch.nn.BatchNorm2d(8, eps=1e-3)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.normal_()
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.2, 3.0)
    bn.eval()
    state = {f"m.conv.{k}": v for k, v in conv.state_dict().items()}
    state.update({f"m.bn.{k}": v for k, v in bn.state_dict().items() if k != "num_batches_tracked"})
    folded = fold_batchnorm(state, eps=1e-3)
    assert set(folded) == {"m.conv.weight", "m.conv.bias"}
    x = torch.randn(2, 6, 10, 12)
    expected = bn(conv(x))
    got = torch.nn.functional.conv2d(x, folded["m.conv.weight"], folded["m.conv.bias"], padding=1)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_folding_with_mismatched_channels_names_the_layer():
    state = {"a.conv.weight": torch.zeros(4, 2, 1, 1), "a.bn.weight": torch.ones(5), "a.bn.bias": torch.zeros(5),
             "a.bn.running_mean": torch.zeros(5), "a.bn.running_var": torch.ones(5)}
    with pytest.raises(ArchitectureMismatch, match="a.conv.weight"):
        fold_batchnorm(state, 1e-5)


# ----------------------------------------------------------------------------- safe checkpoint reader

def test_published_style_checkpoint_is_refused_by_weights_only_but_read_safely(tmp_path, monkeypatch):
    state = random_checkpoint_state(TINY, seed=3)
    path = save_mmengine_checkpoint(state, tmp_path / "dw-tt_ucoco.pth", TINY)  # with Adam state, like the real ones
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    read = []
    real = Checkpoint.iter_storage
    monkeypatch.setattr(Checkpoint, "iter_storage", lambda self, s: read.append(s.key) or real(self, s))
    with Checkpoint(path) as ckpt:
        hub = ckpt.root["message_hub"]["log_scalars"]["train/lr"]
        assert isinstance(hub, Placeholder) and hub._name == "HistoryBuffer"
        weights = ckpt.load(ckpt.root["state_dict"])
        total_storages = sum(1 for n in ckpt.archive.namelist() if "/data/" in n)
    assert len(read) == len(set(read)) == len(state) < total_storages / 2  # each once; optimizer state never read
    assert list(weights) == list(state)
    for key, value in state.items():
        assert torch.equal(weights[key], value), key


def test_pickled_code_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    class EvalEvil:
        def __reduce__(self):
            return (eval, (f"open({str(marker)!r}, 'w')",))

    for payload, named in ((Evil(), "system"), (EvalEvil(), "eval")):
        path = tmp_path / "evil.pth"
        torch.save({"state_dict": {"w": torch.arange(6.0)}, "meta": [payload]}, path)
        with pytest.raises(UnsafeCheckpointError, match=rf"evil\.pth: .*{named}.*could run code"):
            Checkpoint(path)
        with pytest.raises(WeightsFormatError, match="evil.pth"):
            load_weights(path, cache=False)
    assert not marker.exists()


def test_views_strides_and_dtypes_round_trip(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    tensors = {
        "slice": base[1:3],  # storage offset, shared storage
        "transposed": base.t(),  # non-contiguous strides
        "half": torch.linspace(-2, 2, 7, dtype=torch.float16),
        "bf16": torch.linspace(-2, 2, 7, dtype=torch.bfloat16),
        "long": torch.tensor([1, -5, 2**40]),
        "bool": torch.tensor([True, False]),
        "scalar": torch.tensor(3.5),
    }
    path = tmp_path / "mixed.pth"
    torch.save({"state_dict": tensors}, path)
    with Checkpoint(path) as ckpt:
        got = ckpt.load(ckpt.root["state_dict"])
    for key, value in tensors.items():
        assert got[key].dtype == value.dtype and torch.equal(got[key], value), key


def test_legacy_and_non_checkpoint_files_are_clear_errors(tmp_path):
    legacy = tmp_path / "legacy.pth"
    torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointFormatError, match="legacy"):
        Checkpoint(legacy)
    garbage = tmp_path / "truncated.pth"
    garbage.write_bytes(b"<html>not found</html>")
    with pytest.raises(CheckpointFormatError, match="truncated or corrupt"):
        Checkpoint(garbage)
    with pytest.raises(WeightsFormatError, match="truncated or corrupt"):
        load_weights(garbage, cache=False)


# ----------------------------------------------------------------------------- architecture checks

def _save_state(tmp_path: Path, state: dict, name: str = "ckpt.pth") -> Path:
    path = tmp_path / name
    torch.save({"state_dict": state, "meta": {}}, path)
    return path


def test_missing_tensor_in_checkpoint_is_named(tmp_path):
    state = random_checkpoint_state(TINY, seed=1)
    del state["head.gau.uv.weight"]
    with pytest.raises(ArchitectureMismatch, match=r"head\.gau\.uv\.weight.*missing"):
        load_weights(_save_state(tmp_path, state), cache=False)


def test_misshaped_tensor_in_checkpoint_is_named(tmp_path):
    state = random_checkpoint_state(TINY, seed=1)
    state["head.gau.o.weight"] = torch.zeros(256, 500)
    with pytest.raises(ArchitectureMismatch, match=r"head\.gau\.o\.weight.*\[256, 500\].*\[256, 512\]"):
        load_weights(_save_state(tmp_path, state), cache=False)


def test_unexpected_tensor_in_checkpoint_is_named(tmp_path):
    state = random_checkpoint_state(TINY, seed=1)
    state["head.extra.weight"] = torch.zeros(3)
    with pytest.raises(ArchitectureMismatch, match=r"head\.extra\.weight"):
        load_weights(_save_state(tmp_path, state), cache=False)


def test_distillation_checkpoint_loads_the_student(tmp_path):
    student = random_checkpoint_state(TINY, seed=1)
    teacher = {f"teacher.{k}": v * 0 for k, v in random_checkpoint_state(RTMPoseSpec("s"), seed=2).items()}
    mixed = {**teacher, **{f"student.{k}": v for k, v in student.items()}}
    spec, got = load_weights(_save_state(tmp_path, mixed), cache=False)
    _, plain = load_weights(_save_state(tmp_path, student, "plain.pth"), cache=False)
    assert spec == TINY and set(got) == set(plain)
    assert all(torch.equal(got[k], plain[k]) for k in plain)


def _edit_onnx(src: Path, dst: Path, edit) -> Path:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    arrays = {t.name: i for i, t in enumerate(model.graph.initializer)}
    edit(model, arrays, numpy_helper)
    onnx.save(model, str(dst))
    return dst


def _replace_initializer(model, index: int, array, numpy_helper):
    name = model.graph.initializer[index].name
    model.graph.initializer[index].CopyFrom(numpy_helper.from_array(array, name))


def test_onnx_with_wrong_classifier_shape_names_it(models_dir, tmp_path):
    def edit(model, arrays, nh):
        # cls_y is the graph's last MatMul; give it 500 bins instead of 512.
        matmuls = [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in arrays]
        _replace_initializer(model, arrays[matmuls[-1].input[1]], np.zeros((256, 500), np.float32), nh)

    bad = _edit_onnx(models_dir.get("dw-tt_ucoco"), tmp_path / "bad.onnx", edit)
    with pytest.raises(ArchitectureMismatch, match=r"head\.cls_y\.weight.*\[512, 256\].*\[500, 256\]"):
        load_weights(bad)


def test_onnx_with_wrong_kernel_size_names_it(models_dir, tmp_path):
    def edit(model, arrays, nh):
        # The 7x7 final layer (the only 133-channel conv) made 5x5.
        conv = next(n for n in model.graph.node if n.op_type == "Conv"
                    and nh.to_array(model.graph.initializer[arrays[n.input[1]]]).shape[0] == 133)
        _replace_initializer(model, arrays[conv.input[1]], np.zeros((133, 384, 5, 5), np.float32), nh)

    bad = _edit_onnx(models_dir.get("dw-tt_ucoco"), tmp_path / "bad.onnx", edit)
    with pytest.raises(ArchitectureMismatch, match=r"head\.final_layer\.weight"):
        load_weights(bad)


def test_architectures_are_recognised_from_the_graph(models_dir, tmp_path):
    from oracles import make_pose

    assert recognise(models_dir.get("dw-tt_ucoco")) == RTMPoseSpec("t", (256, 192), 133, 2.0)
    assert recognise(models_dir.get("yolox_tiny")) == YOLOXSpec("tiny", (416, 416), 80)
    # An oracle with the right I/O contract but no RTMPose inside is not for the torch backend.
    assert recognise(make_pose(tmp_path / "oracle.onnx", (256, 192))) is None
    with pytest.raises(WeightsFormatError):
        load_weights(tmp_path / "oracle.onnx")


def test_onnx_and_checkpoint_give_the_same_weights(models_dir):
    spec_onnx, from_onnx = load_weights(models_dir.get("dw-tt_ucoco", "onnx"))
    spec_pth, from_pth = load_weights(models_dir.get("dw-tt_ucoco", "pth"), cache=False)
    assert spec_onnx == spec_pth == TINY and set(from_onnx) == set(from_pth)
    for key in from_onnx:
        torch.testing.assert_close(from_onnx[key], from_pth[key], rtol=1e-6, atol=1e-7, msg=key)


# ----------------------------------------------------------------------------- safetensors cache

def test_checkpoint_conversion_is_cached_and_invalidated(models_dir, tmp_path, monkeypatch):
    src = tmp_path / "dw-tt_ucoco.pth"
    shutil.copy(models_dir.get("dw-tt_ucoco", "pth"), src)
    spec, first = load_weights(src)
    cached = loading.cache_path(src)
    # in the per-user cache, never beside the user's file (their folder may be read-only or another tool's)
    from dwpose_core.checkpoints.derived_cache import cache_dir

    assert cached.is_file() and cached.parent == cache_dir() / "fused" and cached.name.startswith("dw-tt_ucoco-")
    assert [p.name for p in tmp_path.iterdir()] == ["dw-tt_ucoco.pth"]

    def no_reading(path):
        raise AssertionError("the checkpoint was read again although the cache is current")

    monkeypatch.setattr(loading, "state_dict_from_checkpoint", no_reading)
    spec2, second = load_weights(src)
    assert spec2 == spec and all(torch.equal(first[k], second[k]) for k in first)
    # The cache file is also a model file in its own right.
    spec3, third = load_weights(cached)
    assert spec3 == spec and all(torch.equal(first[k], third[k]) for k in first)
    # A changed source invalidates the cache.
    stat = src.stat()
    os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="read again"):
        load_weights(src)


def test_read_only_folder_skips_the_cache(models_dir, tmp_path, monkeypatch):
    src = tmp_path / "dw-tt_ucoco.pth"
    shutil.copy(models_dir.get("dw-tt_ucoco", "pth"), src)

    def refuse(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr("safetensors.torch.save_file", refuse)
    spec, state = load_weights(src)
    assert spec == TINY and not loading.cache_path(src).exists()
    assert not list(tmp_path.glob("*.tmp")) and not list(loading.cache_path(src).parent.glob(".*.tmp"))


def test_onnx_nodes_out_of_execution_order_are_detected_not_mis_mapped(models_dir, tmp_path):
    import onnxruntime as ort

    def edit(model, arrays, nh):
        # Put a CSP layer's main-branch conv before its same-shaped short-branch conv. Still a
        # valid graph (both read the same input), but matching by order alone would swap them.
        nodes = list(model.graph.node)
        short = [i for i, n in enumerate(nodes) if "stage1.1/short_conv/" in n.name]
        main = [i for i, n in enumerate(nodes) if "stage1.1/main_conv/" in n.name]
        assert short and main and max(short) < min(main), "exporter node names changed"
        reordered = nodes[:min(short)] + [nodes[i] for i in main] + [nodes[i] for i in short] + nodes[max(main) + 1:]
        del model.graph.node[:]
        model.graph.node.extend(reordered)

    bad = _edit_onnx(models_dir.get("dw-tt_ucoco"), tmp_path / "reordered.onnx", edit)
    ort.InferenceSession(str(bad), providers=["CPUExecutionProvider"])  # a valid model
    with pytest.raises(ArchitectureMismatch, match=r"feeds `backbone\.stage1\.1\.blocks\.0\.conv1\.conv\.weight`"):
        load_weights(bad)
