"""Every command line reports an error the same way (dwpose_core.cli.common.report): a bug is one
'unexpected error (a bug)' line and exit 2, never the user's mistake; our own errors keep their message."""
import json

import numpy as np
import pytest

from dwpose_core.cli import batch as batch_cli
from dwpose_core.cli import main as cli
from dwpose_core.cli import render as render_cli
from dwpose_core.cli import retarget as retarget_cli
from dwpose_core.files.images import write_image
from oracles import make_detector, make_pose

BUG = "unexpected error (a bug): "
HINT = "; rerun with --debug for the traceback"


@pytest.fixture
def models(tmp_path):
    det = make_detector(tmp_path / "det.onnx", [(80.0, 40.0, 400.0, 460.0, 0.9)])
    pose = make_pose(tmp_path / "pose.onnx")
    return ["--det", str(det), "--pose", str(pose), "--backend", "onnxruntime", "-q"]


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "in" / "x.png"
    path.parent.mkdir()
    write_image(path, np.zeros((240, 320, 3), np.uint8))
    return path


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _deep_bug(monkeypatch, exc):
    from dwpose_core.annotate import PoseAnnotator

    def broken(self, frames, **kwargs):
        raise exc

    monkeypatch.setattr(PoseAnnotator, "__call__", broken)


@pytest.mark.parametrize("exc", [ZeroDivisionError("division by zero"),
                                 AttributeError("'NoneType' object has no attribute 'shape'")])
def test_a_bug_deep_in_the_job_is_one_line_and_exit_2(tmp_path, models, picture, capsys, monkeypatch, exc):
    _deep_bug(monkeypatch, exc)
    assert cli.main([str(picture), "--out", str(tmp_path / "o"), *models]) == 2
    err = _lines(capsys.readouterr().err)
    assert err == [f"{BUG}{type(exc).__name__}: {exc}{HINT}"]
    assert not list((tmp_path / "o").glob("x*"))


def test_with_debug_a_bug_shows_its_traceback(tmp_path, models, picture, capsys, monkeypatch):
    _deep_bug(monkeypatch, ZeroDivisionError("division by zero"))
    assert cli.main([str(picture), "--out", str(tmp_path / "o"), *models, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "in broken" in err
    assert _lines(err)[-1] == f"{BUG}ZeroDivisionError: division by zero{HINT}"


def test_a_bug_in_batch_is_one_line_and_exit_2(tmp_path, models, picture, capsys, monkeypatch):
    from dwpose_core.batch import journal

    def broken(path, rows):
        raise AttributeError("'NoneType' object has no attribute 'missing'")

    monkeypatch.setattr(journal, "write_summary", broken)
    assert batch_cli.main([str(picture.parent), "--out", str(tmp_path / "o"), *models]) == 2
    err = _lines(capsys.readouterr().err)
    assert err == [f"{BUG}AttributeError: 'NoneType' object has no attribute 'missing'{HINT}"]


def test_a_bug_in_render_is_not_counted_as_a_bad_input(tmp_path, capsys, monkeypatch):
    pose = tmp_path / "p.json"
    pose.write_text(json.dumps([{"people": [], "canvas_width": 64, "canvas_height": 48}]))
    monkeypatch.setattr(render_cli, "_render_one", lambda path, args, base=None: 1 / 0)
    assert render_cli.main([str(pose), "--out", str(tmp_path / "o")]) == 2
    assert _lines(capsys.readouterr().err) == [f"{BUG}ZeroDivisionError: division by zero{HINT}"]


def test_a_bug_in_retarget_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    from dwpose_core.animate import retarget

    pose = tmp_path / "p.json"
    pose.write_text(json.dumps([{"people": [], "canvas_width": 64, "canvas_height": 48}]))

    def broken(*args, **kwargs):
        raise ValueError("operands could not be broadcast together")  # a plain ValueError: ours would be typed

    monkeypatch.setattr(retarget, "retarget", broken)
    assert retarget_cli.main([str(pose), "--reference", str(pose), "--out", str(tmp_path / "o.json")]) == 2
    assert _lines(capsys.readouterr().err) == [f"{BUG}ValueError: operands could not be broadcast together{HINT}"]


def test_a_corrupt_model_keeps_its_own_message(tmp_path, picture, capsys):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07" + bytes(range(256)) * 8)
    code = cli.main([str(picture), "--out", str(tmp_path / "o"), "--det", "none", "--pose", str(corrupt),
                     "--backend", "onnxruntime", "-q"])
    err = _lines(capsys.readouterr().err)
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: {corrupt}") and "unexpected" not in err[0] and "--debug" not in err[0]


@pytest.mark.parametrize("error", ["UnsupportedModelError", "FormatError"])
def test_our_value_errors_from_the_models_are_the_users_to_fix(tmp_path, models, picture, capsys, monkeypatch, error):
    from dwpose_core.annotate import PoseAnnotator
    from dwpose_core.formats import FormatError
    from dwpose_core.hub.errors import UnsupportedModelError

    cls = {"UnsupportedModelError": UnsupportedModelError, "FormatError": FormatError}[error]
    assert issubclass(cls, ValueError)

    def refuse(setup, options):
        raise cls("pose.pt is not supported: a TorchScript file; use dw-ll_ucoco_384.onnx instead.")

    monkeypatch.setattr(PoseAnnotator, "from_setup", staticmethod(refuse))
    assert cli.main([str(picture), "--out", str(tmp_path / "o"), *models]) == 2
    assert _lines(capsys.readouterr().err) == [
        "error: pose.pt is not supported: a TorchScript file; use dw-ll_ucoco_384.onnx instead."]


def test_an_input_that_fails_is_still_counted_and_the_others_done(tmp_path, models, picture, capsys, monkeypatch):
    from dwpose_core import file_annotation
    from dwpose_core.formats import FormatError

    write_image(picture.parent / "y.png", np.zeros((240, 320, 3), np.uint8))
    real = file_annotation.annotate_file

    def one_bad(annotator, path, *args, **kwargs):
        if path.name == "x.png":
            raise FormatError("x.png: not what was expected")
        return real(annotator, path, *args, **kwargs)

    monkeypatch.setattr(file_annotation, "annotate_file", one_bad)
    assert cli.main([str(picture.parent), "--out", str(tmp_path / "o"), *models]) == 1
    err = _lines(capsys.readouterr().err)
    assert err[0] == f"error: {picture}: x.png: not what was expected" and err[-1].startswith("1 of 2 inputs failed")
    assert (tmp_path / "o" / "y.json").is_file()
