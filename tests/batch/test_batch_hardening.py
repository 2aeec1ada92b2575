"""The batch command when things go wrong: bad list entries, a hostile journal, other options on
resume, two runs at once, nothing left to do, Ctrl-C at any instant."""
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from dwpose_core.batch import journal as bj
from dwpose_core.cli import batch as batch_cli
from dwpose_core.files.images import write_image
from oracles import make_detector, make_pose

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _keep_the_log_level():
    """The commands set the "dwpose" logger's level (-q); later tests expect it as it was."""
    import logging

    logger = logging.getLogger("dwpose")
    level = logger.level
    yield
    logger.setLevel(level)
BOX = (40.0, 20.0, 200.0, 230.0)


@pytest.fixture(scope="module")
def model_args(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    det = make_detector(folder / "det.onnx", [tuple(np.array(BOX) * 2.0) + (0.9,)])
    pose = make_pose(folder / "pose.onnx")
    return ["--det", str(det), "--pose", str(pose), "--backend", "onnxruntime", "-q"]


def _image(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, np.random.default_rng(seed).integers(0, 256, (120, 160, 3), dtype=np.uint8))
    return path


def _video(path, n=10, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for _ in range(n):
        writer.write(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    writer.release()
    return path


def _summary(out: Path) -> dict:
    return {Path(r["input"]).name: r for r in bj.read_summary(bj.default_summary_path(out))}


def test_missing_and_forbidden_list_entries_end_failed_not_pending(tmp_path, model_args, capsys):
    lists = tmp_path / "lists" / "deep"
    _image(lists / "good.png")
    entries = ["good.png", "../../etc/passwd", "/dev/zero", "bad\0name.png", "missing.png"]
    (lists / "list.txt").write_text("\n".join(entries) + "\n")
    out = tmp_path / "out"
    assert batch_cli.main([str(lists / "list.txt"), "--out", str(out), *model_args]) == 1
    rows = _summary(out)
    assert bj.counts(rows.values()) == {"done": 1, "skipped": 0, "failed": 4, "pending": 0}
    assert rows["zero"]["error"] == "a device, not a regular file"
    assert "NUL" in rows["bad\0name.png"]["error"]
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "4 failed, 0 pending" in last


def test_hostile_journal_lines_never_stop_later_runs_and_redo_always_works(tmp_path, model_args, caplog):
    src = tmp_path / "in"
    _image(src / "a.png", 1)
    _image(src / "b.png", 2)
    out = tmp_path / "out"
    assert batch_cli.main([str(src), "--out", str(out), *model_args]) == 0
    with open(out / bj.JOURNAL_NAME, "a") as fh:
        fh.write(json.dumps({"input": "x", "output": [1, 2], "status": "done"}) + "\n")
        fh.write("[" * 100_000 + "]" * 100_000 + "\n")
        fh.write('{"output": "' + "y" * (50 << 20) + '"}\n')
    assert batch_cli.main([str(src), "--out", str(out), *model_args]) == 0
    assert {r["status"] for r in _summary(out).values()} == {"skipped"}
    assert batch_cli.main([str(src), "--out", str(out), "--redo", *model_args]) == 0
    assert {r["status"] for r in _summary(out).values()} == {"done"}
    (out / bj.JOURNAL_NAME).unlink()
    (out / bj.JOURNAL_NAME).mkdir()  # a journal that is a folder
    assert batch_cli.main([str(src), "--out", str(out), "--redo", *model_args]) == 0
    assert {r["status"] for r in _summary(out).values()} == {"done"}


def test_resuming_with_other_job_options_is_refused_in_one_line(tmp_path, model_args, capsys):
    src = tmp_path / "in"
    _image(src / "a.png")
    out = tmp_path / "out"
    assert batch_cli.main([str(src), "--out", str(out), "--smooth", "0.5", *model_args]) == 0
    before = (out / "a.json").read_bytes()
    capsys.readouterr()
    assert batch_cli.main([str(src), "--out", str(out), "--smooth", "1", "--feet", *model_args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--smooth 0.5 -> 1.0" in err[0] and "--feet false -> true" in err[0] and "--redo" in err[0]
    assert (out / "a.json").read_bytes() == before
    assert batch_cli.main([str(src), "--out", str(out), "--smooth", "1", "--feet", "--redo", *model_args]) == 0
    assert batch_cli.main([str(src), "--out", str(out), "--smooth", "1", "--feet", *model_args]) == 0  # resumes


def test_a_second_run_on_the_same_folder_is_refused_in_one_line(tmp_path, model_args, capsys):
    src = tmp_path / "in"
    _image(src / "a.png")
    out = tmp_path / "out"
    with bj.RunLock(out):  # another run holds the folder
        assert batch_cli.main([str(src), "--out", str(out), *model_args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another batch run" in err[0] and not (out / "a.json").exists()
    assert batch_cli.main([str(src), "--out", str(out), *model_args]) == 0


NOTHING_TO_DO = """
import sys, time
sys.path[:0] = [{root!r}, {tests!r}]
started = time.perf_counter()
from dwpose_core.cli import batch
code = batch.main({argv!r})
print(code, time.perf_counter() - started, *(name in sys.modules for name in ("torch", "onnxruntime", "onnx")))
"""


def test_a_run_with_nothing_left_to_do_loads_no_model_and_imports_no_framework(tmp_path, model_args):
    src = tmp_path / "in"
    _image(src / "a.png")
    out = tmp_path / "out"
    argv = [str(src), "--out", str(out), *model_args]
    assert batch_cli.main(argv) == 0
    script = NOTHING_TO_DO.format(root=str(ROOT), tests=str(ROOT / "tests"), argv=argv)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    code, _seconds, *imported = result.stdout.split()
    assert code == "0", result.stderr
    assert imported == ["False", "False", "False"]  # (benchmarks/batch.py times it)


def test_ctrl_c_at_random_instants_never_aborts_inside_the_runtime(tmp_path, model_args):
    """One interrupted run in six used to abort after its summary ("terminate called without an
    active exception"): worker threads still inside ONNX Runtime at interpreter exit."""
    src = tmp_path / "in"
    for k in range(3):
        _video(src / f"v{k}.mp4", 30, seed=k)
    rng = random.Random(18)
    for attempt in range(4):
        out = tmp_path / f"out{attempt}"
        proc = subprocess.Popen([sys.executable, "-m", "dwpose_core", "batch", str(src), "--out", str(out),
                                 *model_args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(1.0, 4.0))
        proc.send_signal(signal.SIGINT)
        if attempt % 2:  # a second Ctrl-C: "quit now"
            time.sleep(rng.uniform(0.0, 0.3))
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        # -2: a second Ctrl-C after the summary, during the interpreter's exit (a shell shows 130 too);
        # never -6 (SIGABRT: "terminate called without an active exception")
        assert proc.returncode in (0, 130, -signal.SIGINT), (proc.returncode, err)
        assert "terminate called" not in err and "Traceback" not in err, err
