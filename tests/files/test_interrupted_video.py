"""A video interrupted at any instant keeps every frame finished before it, as valid JSON that the
pack's own reader reads back; what a killed run leaves behind is removed by the next run."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from dwpose_core.annotate import AnnotateOptions, ClipState, PoseAnnotator
from dwpose_core.estimator_pool import ModelSetup
from dwpose_core.file_annotation import annotate_video, partial_result
from dwpose_core.files import outputs
from dwpose_core.formats.pose_json import from_pose_keypoint
from oracles import make_detector, make_pose

ROOT = Path(__file__).resolve().parents[2]
BOX = (40.0, 20.0, 200.0, 230.0)
FRAMES = 24


def _clip(path: Path, n: int = FRAMES) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (320, 240))
    for i in range(n):
        writer.write(np.full((240, 320, 3), i * 5, np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    det = make_detector(folder / "det.onnx", [tuple(np.array(BOX) * 2.0) + (0.9,)])
    return det, make_pose(folder / "pose.onnx")


def _annotator(models) -> PoseAnnotator:
    det, pose = models
    return PoseAnnotator.from_setup(ModelSetup(str(det), str(pose), backend="onnxruntime"), AnnotateOptions())


def test_an_interrupt_inside_a_clip_shorter_than_a_chunk_keeps_the_frames_done(tmp_path, models):
    """Before: frames were kept per 32-frame chunk, so a 24-frame clip interrupted kept nothing."""
    clip = _clip(tmp_path / "clip.mp4")
    seen = []

    def progress(n):
        seen.append(n)
        if sum(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        annotate_video(_annotator(models), clip, tmp_path / "out", Path("clip"), progress=progress)
    kept, frames = partial_result(info.value)
    assert kept == tmp_path / "out" / "clip.incomplete.json" and frames == 5
    assert len(from_pose_keypoint(kept.read_bytes())) == 5
    assert not (tmp_path / "out" / "clip.json").exists() and not (tmp_path / "out" / "clip_pose.mp4").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.incomplete.json"]


def test_the_document_is_valid_whatever_was_half_written(tmp_path):
    """A frame whose bytes were cut short (a signal inside a write) is left out, never ends the file."""
    writer = outputs.JsonFramesWriter(tmp_path / "x.json")
    writer.write([{"a": 1}, {"b": 2}])
    os.write(writer._fd, b',{"half": [1, 2')  # what an interrupted write leaves after the whole frames
    kept = writer.abandon()
    assert json.loads(kept.read_text()) == [{"a": 1}, {"b": 2}]
    assert [p.name for p in tmp_path.iterdir()] == ["x.incomplete.json"]


# One process interrupted many times: SIGINT raises KeyboardInterrupt only while annotate_video runs
# (as Python's own handler does); a signal that comes after the call returned is ignored.
DRIVER = r"""
import signal, sys, time
sys.path[:0] = [{root!r}, {tests!r}]
from pathlib import Path
from dwpose_core.annotate import AnnotateOptions, ClipState, PoseAnnotator
from dwpose_core.estimator_pool import ModelSetup
from dwpose_core.file_annotation import annotate_video, partial_result
armed = False
def handler(signum, frame):
    if armed:
        raise KeyboardInterrupt
signal.signal(signal.SIGINT, handler)
annotator = PoseAnnotator.from_setup(ModelSetup({det!r}, {pose!r}, backend="onnxruntime"), AnnotateOptions())
while (line := sys.stdin.readline().strip()):
    print("ready", flush=True)
    started = time.perf_counter()
    try:
        armed = True
        result = annotate_video(annotator, Path({clip!r}), Path(line), Path("clip"))
        armed = False
        message = f"done {{result.frames}} {{time.perf_counter() - started}}"
    except KeyboardInterrupt as exc:
        armed = False
        message = f"kept {{partial_result(exc)[1]}}"
    print(message, flush=True)
"""

RERUN = r"""
import sys
sys.path[:0] = [{root!r}, {tests!r}]
from pathlib import Path
from dwpose_core.annotate import AnnotateOptions, ClipState, PoseAnnotator
from dwpose_core.estimator_pool import ModelSetup
from dwpose_core.file_annotation import annotate_video
annotator = PoseAnnotator.from_setup(ModelSetup({det!r}, {pose!r}, backend="onnxruntime"), AnnotateOptions())
for out in sys.argv[1:]:
    annotate_video(annotator, Path({clip!r}), Path(out), Path("clip"))
"""


def test_sigint_at_random_instants_always_leaves_a_readable_document(tmp_path, models):
    det, pose = models
    clip = _clip(tmp_path / "clip.mp4")
    names = dict(root=str(ROOT), tests=str(ROOT / "tests"), det=str(det), pose=str(pose), clip=str(clip))
    proc = subprocess.Popen([sys.executable, "-c", DRIVER.format(**names)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)

    def attempt(out: Path, delay):
        proc.stdin.write(f"{out}\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        if delay is not None:
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline().split()
        assert line, proc.stderr.read()
        return line

    try:
        first = attempt(tmp_path / "full", None)  # uninterrupted: how long a clip takes here
        assert first[:2] == ["done", str(FRAMES)]
        whole = float(first[2])
        rng = random.Random(24)
        kept_some, outs = 0, []
        for k in range(8):
            out = tmp_path / f"run{k}"
            outs.append(str(out))
            result = attempt(out, rng.uniform(0.0, whole))
            done, partial = out / "clip.json", out / "clip.incomplete.json"
            if done.exists():  # finished before the signal (it may still report the signal)
                assert len(from_pose_keypoint(done.read_bytes())) == FRAMES
                assert not partial.exists()
                continue
            assert result[0] == "kept"
            frames = int(result[1])
            if frames:
                kept_some += 1
                assert len(from_pose_keypoint(partial.read_bytes())) == frames  # the reader accepts it
            else:
                assert not partial.exists()
            # Whatever the instant, leftovers carry the run's PID, so a later run can tell them apart.
            for leftover in (out.iterdir() if out.exists() else ()):
                if leftover.name.startswith("."):
                    assert leftover.name.split(".")[3] == str(proc.pid), leftover.name
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert kept_some, "no signal landed while frames were being done; the test measured nothing"
    # The interrupted process is gone: a new run finishes every clip and leaves no temporary file.
    subprocess.run([sys.executable, "-c", RERUN.format(**names), *outs], check=True, cwd=ROOT, timeout=120)
    for out in outs:
        assert sorted(p.name for p in Path(out).iterdir()) == ["clip.json", "clip_pose.mp4"]


def test_stale_temporaries_of_dead_processes_go_and_live_ones_stay(tmp_path):
    target = tmp_path / "clip_pose.mp4"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".clip_pose.mp4.{dead_pid}.abcd1234.mp4"
    live = tmp_path / f".clip_pose.mp4.{os.getppid()}.abcd1234.mp4"
    mine = tmp_path / f".clip_pose.mp4.{os.getpid()}.abcd1234.mp4"
    other = tmp_path / ".clip_pose.mp4.notes"  # not of our naming
    for p in (stale, live, mine, other):
        p.write_bytes(b"x")
    assert outputs.remove_stale_temporaries(target) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (live, mine, other))


def test_temporary_names_carry_the_writers_pid(tmp_path):
    writer = outputs.JsonFramesWriter(tmp_path / "a.json")
    (tmp,) = list(tmp_path.iterdir())
    assert tmp.name.startswith(f".a.json.{os.getpid()}.")
    writer.discard()
    assert not list(tmp_path.iterdir())


def test_a_smoothed_clip_is_annotated_as_one_batch_not_frame_by_frame(tmp_path, models):
    """The zero-lag smoother reads the frames after each frame: a tracked clip (up to a chunk) gives
    exactly what annotating all its frames in one call gives, not a causal frame-by-frame result."""
    from dwpose_core.files.frame_source import FrameSource

    rng = np.random.default_rng(5)
    clip = tmp_path / "moving.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 12, (320, 240))
    for i in range(FRAMES):  # a bright marker (the oracle's keypoint 0) on a jittery path inside the box
        frame = np.zeros((240, 320, 3), np.uint8)
        x, y = 80 + 3 * i + rng.normal(0, 4), 120 + rng.normal(0, 4)
        cv2.circle(frame, (int(x), int(y)), 4, (0, 0, 255), -1)  # BGR: red
        writer.write(frame)
    writer.release()
    det, pose = models
    options = AnnotateOptions(smoothing=1.0)
    annotator = PoseAnnotator.from_setup(ModelSetup(str(det), str(pose), backend="onnxruntime"), options)
    result = annotate_video(annotator, clip, tmp_path / "out", Path("moving"))
    written = json.loads(Path(result.written[0]).read_text())
    source = FrameSource(clip, "video", 64)
    frames = [f for chunk in source.chunks() for f in chunk]
    source.close()
    fresh = PoseAnnotator.from_setup(ModelSetup(str(det), str(pose), backend="onnxruntime"), options)
    whole = fresh(frames).pose_keypoint
    assert len(written) == len(whole) == FRAMES
    got = np.array([p["wholebody_keypoints_2d"][:3] for f in written for p in f["people"]])
    want = np.array([p["wholebody_keypoints_2d"][:3] for f in whole for p in f["people"]])
    np.testing.assert_allclose(got, want, atol=1e-3)
    causal = PoseAnnotator.from_setup(ModelSetup(str(det), str(pose), backend="onnxruntime"), options)
    state = ClipState()
    one_by_one = [causal([f], state=state).pose_keypoint[0] for f in frames]
    causal_points = np.array([p["wholebody_keypoints_2d"][:3] for f in one_by_one for p in f["people"]])
    assert np.abs(causal_points - want).max() > 0.5  # the test can tell the two apart
