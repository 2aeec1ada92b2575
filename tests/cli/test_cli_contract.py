"""The command line's promises: exit codes, bad inputs, nothing lost, one-line messages."""
import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from dwpose_core.cli import main as cli
from dwpose_core.files.images import write_image
from oracles import make_detector, make_pose

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOX = (40.0, 20.0, 200.0, 230.0)


@pytest.fixture
def models(tmp_path):
    det = make_detector(tmp_path / "det.onnx", [tuple(np.array(BOX) * 2.0) + (0.9,)])
    pose = make_pose(tmp_path / "pose.onnx")
    return ["--det", str(det), "--pose", str(pose), "--backend", "onnxruntime", "-q"]


def image(path, h=240, w=320):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, np.zeros((h, w, 3), np.uint8))
    return path


def video(path, n=12, h=240, w=320):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (w, h))
    for _ in range(n):
        writer.write(np.zeros((h, w, 3), np.uint8))
    writer.release()
    return path


def bad_entries(folder):
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(200))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.mp4").write_text("not a video")
    (folder / "dir.png").mkdir()
    os.symlink(folder / "gone.png", folder / "dangling.png")
    os.mkfifo(folder / "pipe.png")
    return ["corrupt.jpg", "empty.jpg", "notes.mp4", "dir.png", "dangling.png", "pipe.png"]


def test_bad_entries_are_named_the_rest_is_done_and_exit_is_1(tmp_path, models, capsys):
    folder = tmp_path / "in"
    image(folder / "good.png")
    names = bad_entries(folder)
    out = tmp_path / "out"
    assert cli.main([str(folder), "--out", str(out), *models]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    for name in names:
        assert any(name in line for line in err), name
    assert err[-1].startswith(f"{len(names)} of {len(names) + 1} inputs failed")
    assert (out / "good.json").exists() and (out / "good_pose.png").exists()
    assert "Traceback" not in "\n".join(err)
    assert not list(out.glob(".*"))  # no temporary files left


def test_all_inputs_unreadable_fails_fast_before_any_model_loads(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    bad_entries(folder)
    started = time.perf_counter()
    # the models do not exist: if they were loaded first, this would be exit 2
    code = cli.main([str(folder), "--out", str(tmp_path / "o"), "--det", "none",
                     "--pose", str(tmp_path / "missing.onnx"), "-q"])
    assert code == 1 and time.perf_counter() - started < 1.0
    assert "nothing was done" in capsys.readouterr().err


def test_a_detector_given_as_the_pose_model_is_exit_2_in_one_line(tmp_path, models):
    img = image(tmp_path / "x.png")
    det = models[1]
    proc = subprocess.run([sys.executable, "-m", "dwpose_core", str(img), "--out", str(tmp_path / "o"),
                           "--det", "none", "--pose", det, "--backend", "onnxruntime", "-q"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error:") and "Traceback" not in proc.stderr


def test_unwritable_out_is_exit_2_before_models_load(tmp_path, capsys):
    img = image(tmp_path / "x.png")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = cli.main([str(img), "--out", str(blocker / "sub"), "--det", "none",
                     "--pose", str(tmp_path / "missing.onnx"), "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "output folder" in err and "missing.onnx" not in err


def test_inputs_with_the_same_stem_never_overwrite_each_other(tmp_path, models):
    folder = tmp_path / "in"
    image(folder / "a.png", 240, 320)
    image(folder / "a.jpg", 200, 300)
    image(folder / "sub" / "a.png", 100, 160)
    out = tmp_path / "out"
    assert cli.main([str(folder), "--out", str(out), *models]) == 0
    sizes = {}
    for rel in ("a.png.json", "a.jpg.json", "sub/a.json"):
        frame = json.loads((out / rel).read_text())[0]
        sizes[rel] = (frame["canvas_width"], frame["canvas_height"])
    assert sizes == {"a.png.json": (320, 240), "a.jpg.json": (300, 200), "sub/a.json": (160, 100)}
    assert (out / "a.png_pose.png").exists() and (out / "sub" / "a_pose.png").exists()


def test_the_cli_lists_what_it_wrote(tmp_path, models, capsys):
    img = image(tmp_path / "x.png")
    args = [a for a in models if a != "-q"]
    assert cli.main([str(img), "--out", str(tmp_path / "o"), *args]) == 0
    out = capsys.readouterr().out
    assert "x.json" in out and "x_pose.png" in out and out.strip().splitlines()[-1].startswith("done:")


def _interrupt_after(monkeypatch, calls: int, exc=KeyboardInterrupt):
    from dwpose_core.annotate import PoseAnnotator

    real = PoseAnnotator.__call__
    count = {"n": 0}

    def flaky(self, frames, **kwargs):
        count["n"] += 1
        if count["n"] > calls:
            raise exc("stop")
        return real(self, frames, **kwargs)

    monkeypatch.setattr(PoseAnnotator, "__call__", flaky)


def test_ctrl_c_says_how_far_it_got_and_exits_130(tmp_path, models, monkeypatch, capsys):
    for name in ("a", "b", "c"):
        image(tmp_path / "in" / f"{name}.png")
    _interrupt_after(monkeypatch, 1)
    out = tmp_path / "out"
    assert cli.main([str(tmp_path / "in"), "--out", str(out), *models]) == 130
    err = capsys.readouterr().err
    assert "interrupted: 1 of 3 inputs done" in err and "Traceback" not in err
    assert (out / "a.json").exists() and not (out / "b.json").exists()
    assert not list(out.glob(".*"))


@pytest.mark.parametrize("exc, code", [(KeyboardInterrupt, 130), (RuntimeError, 1)])
def test_an_interrupted_or_failing_video_keeps_the_frames_done(tmp_path, models, monkeypatch, capsys, exc, code):
    clip = video(tmp_path / "clip.mp4", n=40)  # annotated frame by frame: the 33rd frame fails
    _interrupt_after(monkeypatch, 32, exc)
    out = tmp_path / "out"
    assert cli.main([str(clip), "--out", str(out), *models]) == code
    kept = json.loads((out / "clip.incomplete.json").read_text())
    assert len(kept) == 32 and all(len(f["people"]) == 1 for f in kept)
    assert not (out / "clip.json").exists() and not (out / "clip_pose.mp4").exists()
    assert not list(out.glob(".*"))  # no temporary video left
    assert "clip.incomplete.json" in capsys.readouterr().err


def test_smooth_without_a_value_means_strength_1(tmp_path):
    args = cli.build_parser().parse_args(["x.png", "--out", "o", "--smooth"])
    assert args.smooth == 1.0
    assert cli.build_parser().parse_args(["x.png", "--out", "o", "--smooth", "0.5"]).smooth == 0.5
    assert cli.build_parser().parse_args(["x.png", "--out", "o"]).smooth == 0.0


def test_help_shows_defaults_examples_environment_and_exit_codes():
    text = " ".join(cli.build_parser().format_help().split())
    assert "default: yolox_l.onnx" in text and "default: the model's own, 640 for yolox_l" in text
    assert text.count("python -m dwpose_core ") >= 3
    for var in ("DWPOSE_CKPTS_DIR", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        assert var in text
    assert "exit codes" in text and "130" in text


def test_wrong_values_name_the_flag(tmp_path, models, capsys):
    img = image(tmp_path / "x.png")
    assert cli.main([str(img), "--out", str(tmp_path / "o"), *models, "--det-size", "500"]) == 2
    assert "--det-size" in capsys.readouterr().err
    assert cli.main([str(img), "--out", str(tmp_path / "o"), *models, "--top-k", "0"]) == 2
    assert "--top-k" in capsys.readouterr().err


def test_an_accelerator_torch_cannot_see_is_exit_2_never_a_cpu_run(tmp_path, models, capsys):
    img = image(tmp_path / "x.png")
    args = [a for a in models if a not in ("--backend", "onnxruntime")]
    assert cli.main([str(img), "--out", str(tmp_path / "o"), *args, "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error:") and "--device" in err[0]
    assert not (tmp_path / "o" / "x.json").exists()


def test_face_crops_are_written_for_images_and_videos(tmp_path, models):
    import cv2 as _cv2

    img = image(tmp_path / "x.png")
    clip = video(tmp_path / "v.mp4", n=5)
    out = tmp_path / "o"
    assert cli.main([str(img), str(clip), "--out", str(out), *models, "--face-crops", "128"]) == 0
    crop = _cv2.imread(str(out / "x_face.png"))
    assert crop.shape == (128, 128, 3)
    capture = _cv2.VideoCapture(str(out / "v_face.mp4"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame.shape)
    assert frames == [(128, 128, 3)] * 5


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_nothing_half_written(tmp_path, models, monkeypatch,
                                                                                capsys):
    import errno

    from dwpose_core.files import outputs

    img = image(tmp_path / "x.png")
    out = tmp_path / "o"
    out.mkdir()
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.fh, name)

    monkeypatch.setattr(outputs.os, "fdopen", lambda fd, *a, **k: Full(real_fdopen(fd, *a, **k)))
    assert cli.main([str(img), "--out", str(out), *models]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "x_pose.png" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == []  # no 0-byte or temporary file left
