"""Pose videos are H.264 (yuv420p, even sizes) when PyAV or imageio-ffmpeg is installed, which browsers
and ComfyUI's preview play; else mp4v with one line saying how to get H.264. Decoded back, every
encoder gives exactly the frames written, at exactly i / fps."""
import logging
from fractions import Fraction

import numpy as np
import pytest

from dwpose_core.files import outputs

av = pytest.importorskip("av", reason="PyAV decodes the files back (pip install av)")

FRAMES = 23


def _frames(h, w):
    rng = np.random.default_rng(0)
    # flat colour blocks (exact enough through a lossy codec), different in every frame
    return [np.kron(rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))[:h, :w]
            for _ in range(FRAMES)]


def _decode(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [(f.pts * stream.time_base, f.to_ndarray(format="rgb24")) for f in container.decode(stream)]
        return stream.codec_context.name, stream.codec_context.pix_fmt, frames


ENCODERS = ["pyav", "imageio-ffmpeg"]


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("fps", [12.5, 30000 / 1001])
def test_h264_keeps_every_frame_at_its_time(tmp_path, encoder, fps):
    if encoder == "imageio-ffmpeg":
        pytest.importorskip("imageio_ffmpeg")
    pictures = _frames(49, 65)  # odd sizes: yuv420p needs even ones
    writer = outputs.VideoFileWriter(tmp_path / "x_pose.mp4", fps, encoder=encoder)
    for rgb in pictures:
        writer.write(rgb)
    assert writer.close() == tmp_path / "x_pose.mp4"
    assert [p.name for p in tmp_path.iterdir()] == ["x_pose.mp4"]  # no temporary left
    codec, pix_fmt, decoded = _decode(tmp_path / "x_pose.mp4")
    assert (codec, pix_fmt) == ("h264", "yuv420p")
    assert len(decoded) == FRAMES
    rate = Fraction(fps).limit_denominator(1001)
    start = decoded[0][0]
    assert [t - start for t, _ in decoded] == [Fraction(i) / rate for i in range(FRAMES)]
    for i, (_, got) in enumerate(decoded):
        assert got.shape == (50, 66, 3)
        error = [np.abs(got[:49, :65].astype(int) - want).mean() for want in pictures]
        assert int(np.argmin(error)) == i and error[i] < 15  # frame i is picture i, within the codec's loss


def test_without_an_h264_encoder_it_writes_mp4v_and_says_how_to_get_h264(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DWPOSE_VIDEO_ENCODER", "mp4v")
    monkeypatch.setattr(outputs, "_warned_mp4v", False)
    pictures = _frames(48, 64)
    with caplog.at_level(logging.WARNING, logger="dwpose"):
        for name in ("a.mp4", "b.mp4"):
            writer = outputs.VideoFileWriter(tmp_path / name, 12)
            for rgb in pictures:
                writer.write(rgb)
            writer.close()
    warnings = [r.getMessage() for r in caplog.records if "mp4v" in r.getMessage()]
    assert len(warnings) == 1 and "pip install av" in warnings[0]  # once per process
    codec, _, decoded = _decode(tmp_path / "a.mp4")
    assert codec == "mpeg4" and len(decoded) == FRAMES


def test_the_encoder_is_chosen_by_what_is_installed(monkeypatch):
    monkeypatch.delenv("DWPOSE_VIDEO_ENCODER", raising=False)
    assert outputs.video_encoder() == "pyav"  # av is importable here (see importorskip)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("av", "imageio_ffmpeg") else real(name, *a))
    assert outputs.video_encoder() == "mp4v"


def test_a_frame_of_another_size_is_refused_by_name(tmp_path):
    writer = outputs.VideoFileWriter(tmp_path / "x.mp4", 10, encoder="pyav")
    writer.write(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(outputs.OutputError, match="x.mp4.*frame 1 is 32x32"):
        writer.write(np.zeros((32, 32, 3), np.uint8))
    writer.discard()
    assert not list(tmp_path.iterdir())
