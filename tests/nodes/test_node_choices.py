"""nodes/choices.py model lists: a custom file in the model folders is offered under its own kind only
(the hub's structure check tells detector from pose), and under both when its kind cannot be told."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from oracles import make_detector, make_pose

ROOT = Path(__file__).resolve().parents[2]
STUBS = ROOT / "tests" / "comfy_stubs"
_spec = importlib.util.spec_from_file_location("comfy_stub_loader", STUBS / "loader.py")
loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loader)


@pytest.fixture
def folder(tmp_path_factory, tmp_path, monkeypatch):
    """The pack's choices module, with the dwpose model folder pointed at an empty temporary folder."""
    loader.pack_for_tests(tmp_path_factory.mktemp("comfy"))
    if not loader.use_stubs():
        pytest.skip("ComfyUI itself is importable; these tests drive the stand-ins")
    import folder_paths

    from dwpose_core.hub import verify

    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setitem(folder_paths.folder_names_and_paths, "dwpose", ([str(models)], {".onnx", ".pth"}))
    monkeypatch.setenv("DWPOSE_CACHE_DIR", str(tmp_path / "cache"))  # remembered verdicts stay in this test
    verify.clear_cache()
    return sys.modules[f"{loader.PACK_NAME}.nodes.choices"], models


def test_a_custom_detector_is_offered_only_as_a_detector_and_a_pose_model_only_as_pose(folder):
    choices, models = folder
    make_detector(models / "my_detector.onnx", [(100.0, 100.0, 300.0, 400.0, 0.9)])
    (models / "sub").mkdir()
    make_pose(models / "sub" / "my_pose.onnx", (256, 192))
    files = ["my_detector.onnx", "sub/my_pose.onnx"]

    detectors = choices.model_names("detector", files)
    poses = choices.model_names("pose", files)

    assert "my_detector.onnx" in detectors and "sub/my_pose.onnx" not in detectors
    assert "sub/my_pose.onnx" in poses and "my_detector.onnx" not in poses
    assert detectors[0] == choices.DEFAULT_DETECTOR and detectors[-1] == choices.NO_DETECTOR
    assert poses[0] == choices.DEFAULT_POSE


def test_the_verdict_is_remembered_so_listing_again_checks_nothing(folder):
    from dwpose_core.hub import verify

    choices, models = folder
    make_pose(models / "my_pose.onnx", (256, 192))
    choices.model_names("detector", ["my_pose.onnx"])
    before = verify.check_count
    assert "my_pose.onnx" not in choices.model_names("detector", ["my_pose.onnx"])
    assert verify.check_count == before


def test_a_file_whose_kind_cannot_be_told_is_offered_under_both(folder):
    choices, models = folder
    (models / "damaged.onnx").write_bytes(b"\x00not an onnx graph")
    (models / "odd.pth").write_bytes(b"PK\x03\x04 truncated")
    files = ["damaged.onnx", "odd.pth", "gone.onnx"]  # gone.onnx: listed, then deleted

    for kind in ("detector", "pose"):
        names = choices.model_names(kind, files)
        assert {"damaged.onnx", "odd.pth", "gone.onnx"} <= set(names)


def test_a_failing_check_never_breaks_the_list(folder, monkeypatch):
    from dwpose_core.hub import trust

    choices, models = folder
    make_pose(models / "my_pose.onnx", (256, 192))

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(trust, "evaluate", broken)
    assert "my_pose.onnx" in choices.model_names("detector", ["my_pose.onnx"])
