"""``render`` on the command line: POSE_KEYPOINT files -> one picture per frame (or a video)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dwpose_core.cli import render as render_cli
from dwpose_core.formats.pose_json import from_pose_keypoint, to_pose_keypoint
from dwpose_core.render.draw import draw_pose
from dwpose_core.types import FramePose, Person

ROOT = Path(__file__).resolve().parents[2]


def clip(n=3) -> list:
    rng = np.random.default_rng(1)
    frames = []
    for t in range(n):
        kp = rng.uniform(20, 300, (133, 2))
        frames.append(FramePose(320, 240, [Person(kp, np.full(133, 0.9), [0, 0, 50, 50], 0.9)]))
    return to_pose_keypoint(frames)


@pytest.fixture
def pose_file(tmp_path) -> Path:
    path = tmp_path / "dance.json"
    path.write_text(json.dumps(clip()))
    return path


def read_png(path: Path) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]


def test_one_png_per_frame_equal_to_draw_pose(pose_file, tmp_path):
    out = tmp_path / "out"
    assert render_cli.main([str(pose_file), "--out", str(out), "--profile", "wan_animate", "--size", "160x120"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["dance_pose_00000.png", "dance_pose_00001.png", "dance_pose_00002.png"]  # no temporary file left
    frames = from_pose_keypoint(json.loads(pose_file.read_text()))
    for i, name in enumerate(names):
        assert np.array_equal(read_png(out / name), draw_pose(frames[i], size=(160, 120), profile="wan_animate"))


def test_resolution_and_part_toggles(pose_file, tmp_path):
    out = tmp_path / "out"
    args = [str(pose_file), "--out", str(out), "--resolution", "480", "--no-hands", "--no-face", "--feet"]
    assert render_cli.main(args) == 0
    frame = from_pose_keypoint(json.loads(pose_file.read_text()))[0]
    want = draw_pose(frame, resolution=480, hands=False, face=False, feet=True)
    assert want.shape == (480, 640, 3) and np.array_equal(read_png(out / "dance_pose_00000.png"), want)


def test_a_bad_input_is_exit_1_and_the_others_are_written(pose_file, tmp_path, capsys):
    bad = tmp_path / "broken.json"
    bad.write_text('{"people": [')
    out = tmp_path / "out"
    assert render_cli.main([str(bad), str(pose_file), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert any("broken.json" in line and "not valid JSON" in line for line in err)
    assert err[-1].endswith("1 of 2 inputs failed")
    assert len(list(out.glob("dance_*.png"))) == 3 and not list(out.glob("broken*"))


@pytest.mark.parametrize("args", [["--profile", "nope"], ["--size", "12"], ["--size", "10x10", "--resolution", "8"]])
def test_wrong_arguments_are_exit_2_with_one_line(pose_file, tmp_path, capsys, args):
    assert render_cli.main([str(pose_file), "--out", str(tmp_path / "o")] + args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]


def test_video(pose_file, tmp_path):
    import cv2

    out = tmp_path / "out"
    code = render_cli.main([str(pose_file), "--out", str(out), "--video", "--fps", "12"])
    if code == 1 and not (out / "dance_pose.mp4").exists():
        pytest.skip("this OpenCV build cannot write MP4")
    assert code == 0 and sorted(p.name for p in out.iterdir()) == ["dance_pose.mp4"]
    capture = cv2.VideoCapture(str(out / "dance_pose.mp4"))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 3 and capture.get(cv2.CAP_PROP_FPS) == pytest.approx(12)


def test_python_m_render_cli(pose_file, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "dwpose_core.cli.render", str(pose_file), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert len(list((tmp_path / "o").glob("dance_*.png"))) == 3
    helped = subprocess.run([sys.executable, "-m", "dwpose_core.cli.render", "--help"], capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=120)
    assert helped.returncode == 0 and "--profile" in helped.stdout


def test_python_m_dwpose_core_render_dispatches_here(pose_file, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "dwpose_core", "render", str(pose_file), "--out", str(tmp_path / "o"),
                          "--profile", "vace"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert len(list((tmp_path / "o").glob("dance_*.png"))) == 3


def test_video_never_replaces_a_source_video_nor_another_inputs_picture(tmp_path):
    out = tmp_path / "poses"
    out.mkdir()
    source = out / "clip.mp4"  # the user's own video, beside the JSON
    source.write_bytes(b"the user's video")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = out / "clip.json"
    a.write_text(json.dumps(clip(3)))
    b_first, b_second = tmp_path / "a" / "x.json", tmp_path / "b" / "x.json"
    b_first.write_text(json.dumps(clip(2)))
    b_second.write_text(json.dumps(clip(4)))
    assert render_cli.main([str(a), str(b_first), str(b_second), "--out", str(out), "--video"]) == 0
    assert source.read_bytes() == b"the user's video"
    assert sorted(p.name for p in out.iterdir()) == ["clip.json", "clip.mp4", "clip_pose.mp4", "x.json-2_pose.mp4",
                                                     "x.json_pose.mp4"]
    import cv2

    counts = {}
    for name in ("clip_pose.mp4", "x.json_pose.mp4", "x.json-2_pose.mp4"):
        capture = cv2.VideoCapture(str(out / name))
        counts[name] = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
    assert counts == {"clip_pose.mp4": 3, "x.json_pose.mp4": 2, "x.json-2_pose.mp4": 4}  # a's and b's, each its own


def test_video_pictures_are_streamed_not_held(tmp_path, monkeypatch):
    import weakref

    from dwpose_core.render import draw

    live, most = set(), [0]
    real = draw.draw_pose

    def tracked(*args, **kwargs):
        picture = real(*args, **kwargs).view(_Tracked)
        key = id(picture)
        live.add(key)
        weakref.finalize(picture, live.discard, key)
        most[0] = max(most[0], len(live))
        return picture

    monkeypatch.setattr(draw, "draw_pose", tracked)
    path = tmp_path / "long.json"
    path.write_text(json.dumps(clip(40)))
    assert render_cli.main([str(path), "--out", str(tmp_path / "o"), "--video"]) == 0
    assert most[0] <= 2  # before: all 40 pictures were drawn into a list first


class _Tracked(np.ndarray):
    pass
