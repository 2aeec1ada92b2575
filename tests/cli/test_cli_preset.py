"""--preset on the main command and batch (one shared flag), and `models download` of archive models."""
from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import pytest

from dwpose_core.cli import batch as batch_cli
from dwpose_core.cli import main as main_cli
from dwpose_core.cli import models as models_cli
from dwpose_core.cli.common import setup_from_args
from dwpose_core.hub import presets, registry
from fakehub import _onnx_model, sha256


def setup(parser, *flags):
    s = setup_from_args(parser.parse_args(["x.png", "--out", "o", *flags]))
    return s.detector, s.det_size, s.pose


@pytest.mark.parametrize("parser", [main_cli.build_parser(), batch_cli.build_parser()], ids=["main", "batch"])
def test_a_preset_sets_detector_size_and_pose_and_typed_flags_win(parser):
    assert setup(parser) == ("yolox_l.onnx", None, "dw-ll_ucoco_384.onnx")  # custom: today's pair
    for name, p in presets.PRESETS.items():
        assert setup(parser, "--preset", name) == (p.detector, p.det_size, p.pose)
    assert setup(parser, "--preset", "FAST", "--pose", "dw-ll_ucoco_384.onnx") == (
        "yolox_tiny.onnx", 416, "dw-ll_ucoco_384.onnx")
    # a value typed by the user wins even when it equals the default
    assert setup(parser, "--preset", "fast", "--det", "yolox_l.onnx", "--det-size", "640") == (
        "yolox_l.onnx", 640, "dw-ll_ucoco.onnx")
    assert setup(parser, "--preset", "fast", "--det", "none")[0] is None


def test_an_unknown_preset_is_a_usage_error(capsys):
    assert main_cli.main(["x.png", "--out", "o", "--preset", "turbo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fast" in err[0] and "--help" in err[0]  # one line, not argparse's usage block


def test_models_download_extracts_an_archive_model_into_a_folder(served, capsys, monkeypatch):
    model = _onnx_model("input", (1, 3, 640, 640), {"dets": (1, 100, 5), "labels": (1, 100)}, seed=5)
    pipeline = {"pipeline": {"tasks": [{"module": "Transform", "transforms": [
        {"type": "Resize", "size": [640, 640], "keep_ratio": True}]}]}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("d/end2end.onnx", model)
        zf.writestr("d/pipeline.json", json.dumps(pipeline))
    path = "rtmposev1/onnx_sdk/yolox_m_8xb8-300e_humanart-c2c7a14a.zip"
    served.add(registry.MMPOSE_MIRROR_REPO, path, buf.getvalue())
    spec = registry.MODELS["yolox_m_humanart.onnx"]
    monkeypatch.setitem(registry.MODELS, spec.filename, dataclasses.replace(
        spec, sources=spec.sources[:1], archive_sha256=sha256(buf.getvalue()), archive_size=len(buf.getvalue()),
        sha256=sha256(model), size=len(model)))
    target = served.env.root / "usb stick"
    code = models_cli.main(["download", "yolox_m_humanart", "--dir", str(target)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert sorted(p.name for p in target.iterdir()) == ["yolox_m_humanart.onnx", "yolox_m_humanart.pipeline.json"]
    assert (target / "yolox_m_humanart.onnx").read_bytes() == model
    # a second run finds both files and downloads nothing
    gets = len(served.gets())
    assert models_cli.main(["download", "yolox_m_humanart", "--dir", str(target)]) == 0
    assert len(served.gets()) == gets
