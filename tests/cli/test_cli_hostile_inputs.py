"""What a new user and a hostile trial broke (issue 24, items 16, 17 and the error family): through
the command lines, each is one line that says what to do, with the right exit code, never
"unexpected error (a bug)"."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from dwpose_core.cli import main as cli
from dwpose_core.files.images import write_image

BUG = "unexpected error (a bug)"


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _png_header_claiming(path, width, height):
    """A PNG whose IHDR declares width x height (the pixel data is not there: it must not be needed)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))
    path.write_bytes(data)
    return path


@pytest.fixture
def no_models(monkeypatch):
    """Loading a model fails the test: the inputs must be judged before."""
    from dwpose_core import annotate, estimator_pool

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(annotate.PoseAnnotator, "from_setup", classmethod(refuse))
    monkeypatch.setattr(estimator_pool, "build_estimator", refuse)


# ------------------------------------------------------------------------- item 16: the pixel limit

def test_an_image_over_the_pixel_limit_is_refused_before_any_model_loads(tmp_path, capsys, monkeypatch, no_models):
    big = _png_header_claiming(tmp_path / "huge.png", 20000, 20000)  # 400 megapixels declared
    assert cli.main([str(big), "--out", str(tmp_path / "o"), "-q"]) == 1
    err = _lines(capsys.readouterr().err)
    line = [x for x in err if "megapixels" in x]
    assert len(line) == 1 and "20000x20000" in line[0] and "100 megapixels" in line[0]
    assert line[0].count("huge.png") == 1
    assert not any(BUG in x for x in err)


def test_the_pixel_limit_from_the_environment_is_checked_before_models(tmp_path, capsys, monkeypatch, no_models):
    small = tmp_path / "small.png"
    write_image(small, np.zeros((100, 100, 3), np.uint8))
    monkeypatch.setenv("DWPOSE_MAX_PIXELS", "5000")
    assert cli.main([str(small), "--out", str(tmp_path / "o"), "-q"]) == 1
    err = _lines(capsys.readouterr().err)
    line = [x for x in err if "megapixels" in x]
    assert len(line) == 1 and "100x100" in line[0] and line[0].count("small.png") == 1


def test_a_wrong_pixel_limit_setting_is_a_usage_error(tmp_path, capsys, monkeypatch, no_models):
    small = tmp_path / "small.png"
    write_image(small, np.zeros((10, 10, 3), np.uint8))
    monkeypatch.setenv("DWPOSE_MAX_PIXELS", "lots")
    assert cli.main([str(small), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and "DWPOSE_MAX_PIXELS" in err[0] and "'lots'" in err[0] and BUG not in err[0]


def test_a_read_image_over_the_limit_names_the_path_once(tmp_path):
    from dwpose_core.files.images import ImageTooLargeError, read_image

    big = _png_header_claiming(tmp_path / "huge.png", 20000, 20000)
    with pytest.raises(ImageTooLargeError) as info:
        read_image(big)
    assert str(info.value).count("huge.png") == 1


# ------------------------------------------------------------------------- item 17: no weights, no network

README_POINTER = 'README.md, "Trying it without the real weights"'


def _picture(tmp_path):
    path = tmp_path / "x.png"
    write_image(path, np.zeros((64, 64, 3), np.uint8))
    return path


@pytest.mark.parametrize("world", ["offline", "unreachable", "not on the hub"])
def test_a_model_that_cannot_be_had_points_to_the_no_weights_section(tmp_path, capsys, monkeypatch, hub_env, world):
    from fakehub import FakeHub, closed_port

    if world == "offline":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    elif world == "unreachable":
        monkeypatch.setenv("HF_ENDPOINT", closed_port())
    else:  # a reachable hub that does not have the file
        hub = FakeHub().start()
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
    try:
        code = cli.main([str(_picture(tmp_path)), "--out", str(tmp_path / "o"), "-q"])
    finally:
        if world == "not on the hub":
            hub.stop()
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("error: ") == 1 and BUG not in err  # one message, its guidance indented below
    assert err.count(README_POINTER) == 1
    assert "yolox_l.onnx" in err
    assert not (tmp_path / "o" / "x.json").exists()


# ------------------------------------------------------------------------- user errors are not bugs

@pytest.fixture
def oracle_models(tmp_path):
    from oracles import make_detector, make_pose

    det = make_detector(tmp_path / "det.onnx", [(80.0, 40.0, 400.0, 460.0, 0.9)])
    pose = make_pose(tmp_path / "pose.onnx")
    return det, pose


def test_the_detector_given_as_the_pose_model_is_the_users_error(tmp_path, capsys, oracle_models):
    det, _pose = oracle_models
    code = cli.main([str(_picture(tmp_path)), "--out", str(tmp_path / "o"), "--det", str(det), "--pose", str(det),
                     "--backend", "onnxruntime", "-q"])
    err = _lines(capsys.readouterr().err)
    assert code == 2 and BUG not in "".join(err)
    assert len(err) == 1 and "pose model" in err[0] and "det.onnx" in err[0]


def test_an_image_that_passes_the_checks_but_cannot_be_decoded_fails_alone(tmp_path, capsys, oracle_models):
    det, pose = oracle_models
    good = _picture(tmp_path)
    bad = tmp_path / "bad.bmp"
    bad.write_bytes(b"BM" + bytes(254))  # a BMP signature declaring 0x0 pixels, then nothing usable
    code = cli.main([str(good), str(bad), "--out", str(tmp_path / "o"), "--det", str(det), "--pose", str(pose),
                     "--backend", "onnxruntime", "-q"])
    err = _lines(capsys.readouterr().err)
    assert code == 1 and BUG not in "".join(err)
    line = [x for x in err if "bad.bmp" in x]
    assert len(line) == 1 and line[0].count("bad.bmp") == 1 and "as an image" in line[0]
    assert (tmp_path / "o" / "x.json").is_file()


def test_read_errors_are_input_errors():
    from dwpose_core.errors import InputError, exit_code_for
    from dwpose_core.file_annotation import VideoReadError as FromAnnotation
    from dwpose_core.files.frame_source import VideoReadError
    from dwpose_core.files.images import ImageReadError

    assert FromAnnotation is VideoReadError
    for cls in (ImageReadError, VideoReadError):
        assert issubclass(cls, InputError) and issubclass(cls, ValueError)
        assert exit_code_for(cls("x")) == 1
