"""Structural checks (ONNX contract, .pth pickle scan) and size/hash policy, on tiny files made here."""
from __future__ import annotations

import collections
import hashlib
import io
import pickle
import zipfile

import pytest

from dwpose_core import hub
from dwpose_core.hub import verify
from dwpose_core.checkpoints import safe_pickle
from fakehub import corrupt, make_detector, make_pose, make_pth, sha256
YOLOX = hub.get_spec("yolox_l.onnx")
POSE384 = hub.get_spec("dw-ll_ucoco_384.onnx")
PTH384 = hub.get_spec("dw-ll_ucoco_384.pth")


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_graph_with_the_yolox_contract_passes_and_its_hash_is_computed(tmp_path):
    data = make_detector()
    path = write(tmp_path, "yolox_l.onnx", data)
    result = verify.verify_file(path, spec=YOLOX, expected_size=len(data), expected_sha256=sha256(data))
    assert result.ok and not result.warnings and result.kind == "detector"
    assert result.sha256 == hashlib.sha256(data).hexdigest()


def test_a_renamed_input_is_reported_by_name(tmp_path):
    path = write(tmp_path, "yolox_l.onnx", make_detector(input_name="data"))
    result = verify.verify_file(path, spec=YOLOX)
    assert not result.ok and "'data'" in result.summary() and "'images'" in result.summary()


def test_a_wrong_output_shape_is_reported(tmp_path):
    path = write(tmp_path, "yolox_l.onnx", make_detector(output_shape=(1, 8400, 6)))
    result = verify.verify_file(path, spec=YOLOX)
    assert not result.ok and "[1,8400,6]" in result.summary() and "[?,8400,85]" in result.summary()


def test_a_256x192_graph_under_the_384_name_fails_the_contract(tmp_path):
    path = write(tmp_path, "dw-ll_ucoco_384.onnx", make_pose(256, 192))
    result = verify.verify_file(path, spec=POSE384)
    assert not result.ok and "[1,3,256,192]" in result.summary()


def test_a_pose_graph_without_simcc_y_is_reported(tmp_path):
    path = write(tmp_path, "p.onnx", make_pose(outputs={"simcc_x": (1, 133, 576)}))
    result = verify.verify_file(path, spec=POSE384)
    assert not result.ok and "simcc_y" in result.summary()


def test_an_unregistered_graph_is_checked_against_its_kind(tmp_path):
    ok = verify.verify_file(write(tmp_path, "custom.onnx", make_pose(320, 240)), kind="pose")
    assert ok.ok and ok.kind == "pose"
    inferred = verify.verify_file(write(tmp_path, "mystery.onnx", make_pose(256, 192)))
    assert inferred.ok and inferred.kind == "pose"
    bad = verify.verify_file(write(tmp_path, "det_as_pose.onnx", make_detector()), kind="pose")
    assert not bad.ok and "simcc_x" in bad.summary()


def test_a_truncated_onnx_file_does_not_load_and_the_size_says_why(tmp_path):
    data = make_detector()
    path = write(tmp_path, "yolox_l.onnx", data[: len(data) // 3])
    result = verify.verify_file(path, spec=YOLOX, expected_size=len(data))
    assert not result.ok
    assert "does not load" in result.summary() and "truncated?" in result.summary()


def test_a_strict_check_rejects_a_wrong_size_before_parsing(tmp_path):
    data = make_detector()
    path = write(tmp_path, "yolox_l.onnx", data + b"\0")
    result = verify.verify_file(path, spec=YOLOX, expected_size=len(data), strict=True)
    assert not result.ok and f"{len(data) + 1:,} bytes" in result.summary()


def test_an_empty_file_is_reported(tmp_path):
    result = verify.verify_file(write(tmp_path, "yolox_l.onnx", b""), spec=YOLOX)
    assert not result.ok and "empty" in result.summary()


def test_same_length_corruption_passes_the_structure_but_not_a_strict_hash(tmp_path):
    data = make_detector()
    path = write(tmp_path, "yolox_l.onnx", corrupt(data))
    lenient = verify.verify_file(path, spec=YOLOX, expected_size=len(data), expected_sha256=sha256(data))
    assert lenient.ok and "SHA-256" in lenient.warnings[0]
    strict = verify.verify_file(path, spec=YOLOX, expected_size=len(data), expected_sha256=sha256(data),
                                strict=True)
    assert not strict.ok and "corrupted" in strict.summary()


def test_a_hand_placed_variant_of_another_size_is_a_warning_not_a_refusal(tmp_path):
    official = make_detector(seed=0)
    path = write(tmp_path, "yolox_l.onnx", make_detector(seed=7))  # a valid graph, other weights
    result = verify.verify_file(path, spec=YOLOX, expected_size=len(official) + 10, expected_sha256=sha256(official))
    assert result.ok and "custom variant" in result.warnings[0]


def test_verification_is_remembered_until_the_file_changes(tmp_path, monkeypatch):
    data = make_detector()
    path = write(tmp_path, "yolox_l.onnx", data)
    calls = []
    real = verify.sha256_file  # the one SHA-256 helper (digest.py), as verify uses it
    monkeypatch.setattr(verify, "sha256_file", lambda p: calls.append(p) or real(p))
    verify.clear_cache()
    kwargs = dict(spec=YOLOX, expected_size=len(data), expected_sha256=sha256(data))
    assert verify.verify_cached(path, **kwargs).ok
    assert verify.verify_cached(path, **kwargs).ok
    assert len(calls) == 1
    path.write_bytes(corrupt(data))
    assert "SHA-256" in verify.verify_cached(path, **kwargs).warnings[0]
    assert len(calls) == 2


# ---------------------------------------------------------------- .pth (the restricted reader: see test_pth_reader.py)

@pytest.fixture(scope="module")
def rtmpose_pth():
    """Bytes of a lean mmengine-style RTMPose-t checkpoint (real architecture, random weights)."""
    pytest.importorskip("torch")
    from dwpose_core.torch_models.rtmpose import RTMPoseSpec
    from tools.make_test_models import random_checkpoint_state, save_mmengine_checkpoint
    import tempfile
    from pathlib import Path

    spec = RTMPoseSpec("t", (256, 192))
    with tempfile.TemporaryDirectory() as tmp:
        path = save_mmengine_checkpoint(random_checkpoint_state(spec, seed=0), Path(tmp) / "c.pth", spec, lean=True)
        return path.read_bytes()


def test_an_mmengine_style_checkpoint_passes_without_running_pickled_code(tmp_path, monkeypatch, rtmpose_pth):
    path = write(tmp_path, "dw-tt_ucoco.pth", rtmpose_pth)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("the checkpoint was unpickled freely"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("the checkpoint was unpickled freely"))
    result = verify.verify_file(path, spec=hub.get_spec("dw-tt_ucoco.pth"), expected_size=len(rtmpose_pth),
                                expected_sha256=None)
    assert result.ok, result.summary()
    assert result.kind == "pose"


def test_a_bare_state_dict_is_read_like_the_loader_reads_it(tmp_path, rtmpose_pth):
    torch = pytest.importorskip("torch")
    from dwpose_core.checkpoints.pth_reader import Checkpoint

    with Checkpoint(write(tmp_path, "full.pth", rtmpose_pth)) as ckpt:
        state = ckpt.load(ckpt.root["state_dict"])
    bare = tmp_path / "mine.pth"
    torch.save(state, bare)
    assert verify.verify_file(bare, kind="pose").ok


def test_a_checkpoint_whose_weights_do_not_fit_the_architecture_fails_the_check(tmp_path):
    # right key names, wrong shapes: loading would fail, so the check does too
    path = write(tmp_path, "dw-ll_ucoco_384.pth", make_pth())
    result = verify.verify_file(path, spec=PTH384)
    assert not result.ok and "unknown stem width 2" in result.summary()


def test_a_checkpoint_without_pose_weights_is_not_a_pose_model(tmp_path):
    path = write(tmp_path, "dw-ll_ucoco_384.pth", make_pth(state_dict_keys=("encoder.layer.0.weight",)))
    assert "backbone.stem" in verify.verify_file(path, spec=PTH384).summary()


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    path = write(tmp_path, "dw-ll_ucoco_384.pth", make_pth(extra={"payload": _RunsCode(marker)}))
    result = verify.verify_file(path, spec=PTH384)
    assert not result.ok and "system" in result.summary() and "run code" in result.summary()
    assert not marker.exists()


def test_a_truncated_checkpoint_is_not_a_zip_any_more(tmp_path):
    data = make_pth()
    result = verify.verify_file(write(tmp_path, "dw-ll_ucoco_384.pth", data[: len(data) // 2]), spec=PTH384)
    assert not result.ok and "zip" in result.summary()


def test_a_torchscript_archive_is_recognised_by_its_code_folder(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("model/data.pkl", pickle.dumps({"state_dict": {}}, protocol=2))
        z.writestr("model/code/__torch__/m.py", "def forward(self, x): return x")
    result = verify.verify_file(write(tmp_path, "weights.pth", buf.getvalue()), kind="pose")
    assert not result.ok and "TorchScript" in result.summary()


@pytest.mark.parametrize("module,name,verdict", [
    ("torch", "FloatStorage", "reader"),
    ("torch._utils", "_rebuild_tensor_v2", "reader"),
    ("__builtin__", "getattr", "reader"),
    ("collections", "OrderedDict", "reader"),
    ("numpy.core.multiarray", "_reconstruct", "inert"),
    ("mmengine.logging.history_buffer", "HistoryBuffer", "inert"),
    ("mmengine.runner.runner", "Runner", "inert"),
    ("torch", "load", "refused"),
    ("torch.jit", "load", "refused"),
    ("numpy", "load", "refused"),
    ("builtins", "eval", "refused"),
    ("builtins", "__import__", "refused"),
    ("posix", "system", "refused"),
    ("collections", "namedtuple", "refused"),
])
def test_globals_are_classified_by_what_they_could_do(module, name, verdict):
    assert safe_pickle.classify_global(module, name) == verdict


class _TrainingMeta:  # stands for some training library's metadata class
    pass


def _pickle_zip(obj, module_renames: dict) -> bytes:
    """A torch-style zip whose protocol-2 pickle names classes under other module names."""
    data = pickle.dumps(obj, protocol=2)
    for old, new in module_renames.items():
        data = data.replace(f"c{old}\n".encode(), f"c{new}\n".encode())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", data)
    return buf.getvalue()


def test_other_packages_metadata_classes_stay_inert_placeholders(tmp_path):
    obj = {"state_dict": collections.OrderedDict(), "meta": _TrainingMeta()}
    path = write(tmp_path, "p.pth", _pickle_zip(obj, {_TrainingMeta.__module__: "trainlib.meta"}))
    with safe_pickle.CheckpointArchive(path) as ckpt:
        meta = ckpt.root["meta"]
        assert isinstance(meta, safe_pickle.Placeholder) and meta._module == "trainlib.meta"
        assert "trainlib.meta._TrainingMeta" in ckpt.globals


def test_a_graph_with_unknown_io_names_matches_by_position_when_the_registry_does_not_know_them(tmp_path):
    unjit = hub.get_spec("dw-ll_ucoco.onnx")
    renamed = make_pose(256, 192, outputs={"out0": (1, 133, 384), "out1": (1, 133, 512)})
    assert verify.verify_file(write(tmp_path, "dw-ll_ucoco.onnx", renamed), spec=unjit).ok
    swapped = make_pose(256, 192, outputs={"out0": (1, 133, 512), "out1": (1, 133, 384)})
    assert "simcc_x" in verify.verify_file(write(tmp_path, "dw-ll_ucoco.onnx", swapped), spec=unjit).summary()
    # the yzd-v export's names are known, so they are required there
    named_otherwise = make_pose(outputs={"out0": (1, 133, 576), "out1": (1, 133, 768)})
    assert not verify.verify_file(write(tmp_path, "dw-ll_ucoco_384.onnx", named_otherwise), spec=POSE384).ok
