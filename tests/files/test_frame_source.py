"""Frames read in chunks, optionally ahead, with the same frames and errors either way."""
import threading

import cv2
import numpy as np
import pytest

from dwpose_core.files.frame_source import FrameSource


def clip(path, n):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (64, 48))
    for i in range(n):
        writer.write(np.full((48, 64, 3), (i * 3) % 256, np.uint8))
    writer.release()
    return path


def test_reading_ahead_gives_the_same_chunks_as_reading_in_place(tmp_path):
    path = clip(tmp_path / "c.mp4", 70)
    with FrameSource(path, "video", chunk=32) as plain:
        expected = [np.stack(c) for c in plain.chunks()]
    ahead = FrameSource(path, "video", chunk=32).read_ahead()
    assert ahead.fps == pytest.approx(12)  # known at once, without draining the reader
    got = [np.stack(c) for c in ahead.chunks()]
    ahead.close()
    assert [len(c) for c in got] == [32, 32, 6]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def test_asking_for_the_frame_rate_never_waits_for_a_full_read_ahead(tmp_path):
    source = FrameSource(clip(tmp_path / "c.mp4", 100), "video", chunk=8, ahead=1).read_ahead()
    done = threading.Event()
    threading.Thread(target=lambda: (source.fps, done.set()), daemon=True).start()
    assert done.wait(5)
    source.close()


def test_an_unreadable_video_raises_where_its_frames_are_asked_for(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    source = FrameSource(bad, "video").read_ahead()
    with pytest.raises(ValueError, match="cannot open"):
        source.fps
    with pytest.raises(ValueError, match="cannot open"):
        next(iter(source.chunks()))
    source.close()


def test_closing_stops_the_reader(tmp_path):
    source = FrameSource(clip(tmp_path / "c.mp4", 100), "video", chunk=4, ahead=1).read_ahead()
    next(iter(source.chunks()))
    source.close()
    assert source._thread is None or not source._thread.is_alive()


def test_a_video_opencv_cannot_open_is_a_video_read_error(tmp_path):
    """Issue 24: an input's fault is an InputError (exit code 1 for that input), not a bare ValueError."""
    from dwpose_core.errors import InputError
    from dwpose_core.files.frame_source import FrameSource, VideoReadError

    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\0" * 64)
    with pytest.raises(VideoReadError, match="clip.mp4") as info:
        with FrameSource(bad, "video") as source:
            list(source.chunks())
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)
