"""``python -m dwpose_core batch``: the single-input command's outputs, resumable, failures recorded."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from dwpose_core.batch import run as batch
from dwpose_core.cli import batch as batch_cli
from dwpose_core.batch import journal as batch_summary
from dwpose_core.cli import main as cli
from dwpose_core.files.images import write_image
from oracles import make_detector, make_pose

ROOT = Path(__file__).resolve().parents[2]
BOX = (40.0, 20.0, 200.0, 230.0)
JOB = ["--track", "--smooth", "0.5", "--feet"]


@pytest.fixture(scope="module")
def model_args(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    det = make_detector(folder / "det.onnx", [tuple(np.array(BOX) * 2.0) + (0.9,)])
    pose = make_pose(folder / "pose.onnx")
    return ["--det", str(det), "--pose", str(pose), "--backend", "onnxruntime", "-q"]


def noise_image(path, h, w, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))
    return path


def noise_video(path, n, h=240, w=320, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (w, h))
    for _ in range(n):
        writer.write(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    writer.release()
    return path


@pytest.fixture
def dataset(tmp_path):
    """Two images of different sizes, a 40-frame video (two 32-frame chunks) and a 12-frame one."""
    folder = tmp_path / "in"
    noise_image(folder / "a.png", 240, 320, 1)
    noise_image(folder / "sub" / "b.jpg", 200, 300, 2)
    noise_video(folder / "clips" / "long.mp4", 40, seed=3)
    noise_video(folder / "clips" / "short.mp4", 12, seed=4)
    return folder


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def decoded_frames(data: bytes) -> list:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".mp4") as fh:
        fh.write(data)
        fh.flush()
        capture = cv2.VideoCapture(fh.name)
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        capture.release()
    return frames


def assert_same_outputs(got: dict[str, bytes], expected: dict[str, bytes]) -> None:
    """Byte for byte, except videos: H.264 encodes of the same pictures may differ in their bytes
    (libx264), so a video is compared by its decoded frames."""
    assert set(got) == set(expected)
    for name, data in expected.items():
        if name.endswith(".mp4"):
            a, b = decoded_frames(got[name]), decoded_frames(data)
            assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b)), name
        else:
            assert got[name] == data, name


def outputs_only(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if not k.startswith("batch_")}


def summary(out: Path) -> dict[str, dict]:
    return {Path(r["input"]).name: r for r in batch_summary.read_summary(batch_summary.default_summary_path(out))}


def journal_done_counts(out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in batch_summary.read_journal(out):
        if row["status"] == "done":
            counts[row["output"]] = counts.get(row["output"], 0) + 1
    return counts


def test_outputs_are_the_single_input_commands_byte_for_byte(dataset, tmp_path, model_args):
    assert cli.main([str(dataset), "--out", str(tmp_path / "cli"), *JOB, *model_args]) == 0
    assert batch_cli.main([str(dataset), "--out", str(tmp_path / "batch"), *JOB, *model_args]) == 0
    expected = files_under(tmp_path / "cli")
    assert set(expected) == {"a.json", "a_pose.png", "sub/b.json", "sub/b_pose.png", "clips/long.json",
                             "clips/long_pose.mp4", "clips/short.json", "clips/short_pose.mp4"}
    assert_same_outputs(outputs_only(files_under(tmp_path / "batch")), expected)


def test_two_workers_write_the_same_bytes(dataset, tmp_path, model_args):
    assert batch_cli.main([str(dataset), "--out", str(tmp_path / "one"), *JOB, *model_args]) == 0
    assert batch_cli.main([str(dataset), "--out", str(tmp_path / "two"), "--workers", "2", *JOB, *model_args]) == 0
    assert_same_outputs(outputs_only(files_under(tmp_path / "two")), outputs_only(files_under(tmp_path / "one")))


def test_the_summary_lists_every_input_with_frames_and_people_per_frame(dataset, tmp_path, model_args):
    out = tmp_path / "out"
    assert batch_cli.main([str(dataset), "--out", str(out), *model_args]) == 0
    rows = summary(out)
    assert set(rows) == {"a.png", "b.jpg", "long.mp4", "short.mp4"}
    for name, frames in {"a.png": 1, "b.jpg": 1, "long.mp4": 40, "short.mp4": 12}.items():
        row = rows[name]
        written = json.loads(Path(row["output"]).read_text())
        assert (row["status"], row["frames"], row["error"], row["attempts"]) == ("done", frames, None, 1)
        assert len(written) == frames
        assert list(row["people"]) == [len(frame["people"]) for frame in written] == [1] * frames
        assert row["seconds"] > 0


def test_a_corrupt_input_is_recorded_and_the_others_are_done(dataset, tmp_path, model_args, capsys):
    (dataset / "broken.jpg").write_bytes(b"\xff\xd8\xff" + bytes(300))
    (dataset / "clips" / "noise.mp4").write_bytes(os.urandom(4096))
    out = tmp_path / "out"
    assert batch_cli.main([str(dataset), "--out", str(out), *model_args]) == 1
    rows, err = summary(out), capsys.readouterr().err
    for name in ("broken.jpg", "noise.mp4"):
        assert rows[name]["status"] == "failed" and rows[name]["error"], name
        assert f"error: {dataset}" in err and name in err, name
    assert all(rows[n]["status"] == "done" for n in ("a.png", "b.jpg", "long.mp4", "short.mp4"))
    assert not (out / "broken.json").exists() and not (out / "clips" / "noise.json").exists()


def test_a_missing_file_in_a_list_is_recorded_not_fatal(dataset, tmp_path, model_args):
    listing = dataset / "list.txt"
    listing.write_text("# clips\na.png\n\nclips/gone.mp4\nclips/short.mp4\n")
    out = tmp_path / "out"
    assert batch_cli.main([str(listing), "--out", str(out), *model_args]) == 1
    rows = summary(out)
    assert rows["gone.mp4"]["status"] == "failed" and "does not exist" in rows["gone.mp4"]["error"]
    assert rows["a.png"]["status"] == rows["short.mp4"]["status"] == "done"


@pytest.mark.parametrize("kind", ["txt", "csv", "parquet"])
def test_lists_of_paths_name_outputs_as_the_folder_run_does(dataset, tmp_path, model_args, kind):
    names = ["a.png", "sub/b.jpg", "clips/short.mp4", str(dataset / "clips" / "long.mp4")]  # one absolute
    listing = dataset / f"list.{kind}"
    if kind == "txt":
        listing.write_text("\n".join(names) + "\n")
    elif kind == "csv":
        listing.write_text("id,path\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names)))
    else:
        pa = pytest.importorskip("pyarrow")
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"id": list(range(4)), "path": names}), listing)
    assert batch_cli.main([str(dataset), "--out", str(tmp_path / "folder"), *model_args]) == 0
    assert batch_cli.main([str(listing), "--out", str(tmp_path / "list"), *model_args]) == 0
    assert_same_outputs(outputs_only(files_under(tmp_path / "list")), outputs_only(files_under(tmp_path / "folder")))


def test_a_second_run_skips_complete_inputs_and_redoes_an_incomplete_one(dataset, tmp_path, model_args):
    out = tmp_path / "out"
    assert batch_cli.main([str(dataset), "--out", str(out), *model_args]) == 0
    first = files_under(out)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.suffix in (".json", ".png", ".mp4")}
    # an interrupted video: only the frames of its first chunk, as file_annotation keeps them
    partial = json.loads((out / "clips" / "long.json").read_text())[:32]
    (out / "clips" / "long.json").unlink()
    (out / "clips" / "long.incomplete.json").write_text(json.dumps(partial))
    assert batch_cli.main([str(dataset), "--out", str(out), *model_args]) == 0
    rows = summary(out)
    assert rows["long.mp4"]["status"] == "done" and rows["long.mp4"]["frames"] == 40
    for name, frames in {"a.png": 1, "b.jpg": 1, "short.mp4": 12}.items():
        assert (rows[name]["status"], rows[name]["frames"], list(rows[name]["people"])) == \
            ("skipped", frames, [1] * frames)
    assert not (out / "clips" / "long.incomplete.json").exists()
    assert (out / "clips" / "long.json").read_bytes() == first["clips/long.json"]
    for path, stamp in stamps.items():
        if "long" not in path.name:
            assert path.stat().st_mtime_ns == stamp, path  # not written again


def test_pictures_missing_from_an_earlier_json_only_run_are_made(dataset, tmp_path, model_args):
    out = tmp_path / "out"
    assert batch_cli.main([str(dataset), "--out", str(out), "--no-pictures", *model_args]) == 0
    assert not (out / "a_pose.png").exists()
    assert batch_cli.main([str(dataset), "--out", str(out), *model_args]) == 0
    assert (out / "a_pose.png").exists() and (out / "clips" / "long_pose.mp4").exists()
    assert {r["status"] for r in summary(out).values()} == {"done"}


def test_an_input_that_fails_once_is_retried_and_recorded_with_its_attempts(dataset, tmp_path, model_args,
                                                                            monkeypatch):
    from dwpose_core import file_annotation

    real, failures = file_annotation.annotate_file, {"n": 0}

    def flaky(annotator, path, *args, **kwargs):
        if path.name == "short.mp4" and failures["n"] < failures_wanted:
            failures["n"] += 1
            raise RuntimeError("device busy")
        return real(annotator, path, *args, **kwargs)

    monkeypatch.setattr(file_annotation, "annotate_file", flaky)
    failures_wanted = 1
    assert batch_cli.main([str(dataset), "--out", str(tmp_path / "a"), "--retries", "1", *model_args]) == 0
    assert summary(tmp_path / "a")["short.mp4"]["attempts"] == 2
    failures["n"], failures_wanted = 0, 5
    assert batch_cli.main([str(dataset), "--out", str(tmp_path / "b"), "--retries", "2", *model_args]) == 1
    row = summary(tmp_path / "b")["short.mp4"]
    assert (row["status"], row["attempts"], row["error"]) == ("failed", 3, "RuntimeError: device busy")
    assert failures["n"] == 3


def test_the_next_input_is_read_while_the_current_one_runs(dataset, tmp_path, model_args, monkeypatch):
    from dwpose_core import file_annotation
    from dwpose_core.files import inputs

    events, lock = [], threading.Lock()
    real_check, real_annotate = inputs.check_input, file_annotation.annotate_file

    def check(path, kind=None):
        with lock:
            events.append(("check", path.name))
        return real_check(path, kind)

    def annotate(annotator, path, *args, **kwargs):
        with lock:
            events.append(("start", path.name))
        time.sleep(0.3)
        result = real_annotate(annotator, path, *args, **kwargs)
        with lock:
            events.append(("end", path.name))
        return result

    from dwpose_core.files import frame_source

    real_read = frame_source.FrameSource._read

    def read(self):
        with lock:
            events.append(("decode", self.path.name))
        yield from real_read(self)

    monkeypatch.setattr(inputs, "check_input", check)
    monkeypatch.setattr(file_annotation, "annotate_file", annotate)
    monkeypatch.setattr(frame_source.FrameSource, "_read", read)
    assert batch_cli.main([str(dataset), "--out", str(tmp_path / "out"), *model_args]) == 0
    first = next(name for kind, name in events if kind == "start")
    second = next(name for kind, name in events if kind == "check" and name != first)
    assert events.index(("check", second)) < events.index(("end", first))
    # and its frames are being decoded while the first input still runs
    assert events.index(("decode", second)) < events.index(("end", first))


def _wait_for_journal_lines(out: Path, n: int, proc, timeout=90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(batch_summary.read_journal(out)) >= n:
            return
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    raise AssertionError("no input finished in time")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_a_run_stopped_after_its_first_input_completes_on_the_next_run_with_each_input_done_once(
        tmp_path, model_args, how):
    folder = tmp_path / "in"
    for i in range(6):
        noise_video(folder / f"v{i}.mp4", 64, seed=i)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "dwpose_core", "batch", str(folder), "--out", str(out), *model_args]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_journal_lines(out, 1, proc)
        proc.send_signal(how)
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    stopped_with = len(journal_done_counts(out))
    assert 1 <= stopped_with < 6
    if how == signal.SIGINT:
        assert code == 130
        rows = summary(out)
        assert {r["status"] for r in rows.values()} <= {"done", "pending"} and len(rows) == 6
        assert sum(r["status"] == "pending" for r in rows.values()) == 6 - stopped_with
    assert batch_cli.main([str(folder), "--out", str(out), *model_args]) == 0
    assert journal_done_counts(out) == {str(out / f"v{i}.json"): 1 for i in range(6)}
    for i in range(6):
        assert len(json.loads((out / f"v{i}.json").read_text())) == 64
        assert (out / f"v{i}_pose.mp4").stat().st_size > 0
    assert not list(out.glob(".*")) and not list(out.glob("*.incomplete.json"))  # nothing half-done left
    assert {r["status"] for r in summary(out).values()} <= {"done", "skipped"}


def test_ray_missing_says_how_to_install_it_and_exits_2(dataset, tmp_path, model_args, monkeypatch, capsys):
    from dwpose_core.batch import ray_data as batch_ray

    monkeypatch.setattr(batch_ray, "available", lambda: False)
    assert batch_cli.main([str(dataset), "--out", str(tmp_path / "out"), "--ray", *model_args]) == 2
    err = capsys.readouterr().err
    assert "pip install" in err and "ray" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_path_after_ray_is_an_input_not_an_address(dataset):
    args = batch_cli.build_parser().parse_args(batch_cli._ray_flag(["--ray", str(dataset), "--out", "o"]))
    assert args.ray == "" and args.inputs == [str(dataset)]
    args = batch_cli.build_parser().parse_args(batch_cli._ray_flag([str(dataset), "--ray", "ray://head:10001", "--out", "o"]))
    assert args.ray == "ray://head:10001"


def test_one_worker_per_gpu_torch_sees_else_one(monkeypatch):
    from dwpose_core.estimator_pool import ModelSetup

    monkeypatch.setattr(batch, "_torch_gpu_count", lambda backend: 3)
    assert batch.worker_devices(ModelSetup(backend="torch"), None) == ["cuda:0", "cuda:1", "cuda:2"]
    assert batch.worker_devices(ModelSetup(backend="torch", device="cuda:1"), None) == ["cuda:1"]
    assert batch.worker_devices(ModelSetup(backend="onnxruntime"), None) == [None]
    monkeypatch.setattr(batch, "_torch_gpu_count", lambda backend: 0)
    assert batch.worker_devices(ModelSetup(), None) == [None]
    assert batch.worker_devices(ModelSetup(), 2) == [None, None]


def test_wrong_batch_values_name_the_flag(dataset, tmp_path, model_args, capsys):
    assert batch_cli.main([str(dataset), "--out", str(tmp_path / "o"), "--workers", "0", *model_args]) == 2
    assert "--workers" in capsys.readouterr().err
    assert batch_cli.main([str(dataset), "--out", str(tmp_path / "o"), "--det-every", "0", *model_args]) == 2
    assert "--det-every" in capsys.readouterr().err


def test_the_summary_can_be_json_lines_whatever_is_installed(dataset, tmp_path, model_args):
    table = tmp_path / "table.jsonl"
    assert batch_cli.main([str(dataset), "--out", str(tmp_path / "out"), "--summary", str(table), *model_args]) == 0
    rows = [json.loads(line) for line in table.read_text().splitlines()]
    assert [Path(r["input"]).name for r in rows] == ["a.png", "long.mp4", "short.mp4", "b.jpg"]  # walk order
    assert all(set(r) == set(batch_summary.FIELDS) and r["status"] == "done" for r in rows)


def test_a_journal_line_torn_by_a_kill_costs_only_that_line(tmp_path):
    from dwpose_core.files.inputs import InputFile

    out = tmp_path / "out"
    with batch_summary.Journal(out) as journal:
        journal.record(batch_summary.make_row(InputFile(Path("a.png"), "image", Path("a")), out, "done", frames=1))
    with open(out / batch_summary.JOURNAL_NAME, "a") as fh:
        fh.write('{"input": "b.png", "outp')  # the kill came here
    with batch_summary.Journal(out) as journal:
        journal.record(batch_summary.make_row(InputFile(Path("c.png"), "image", Path("c")), out, "done", frames=1))
    assert [Path(r["input"]).name for r in batch_summary.read_journal(out)] == ["a.png", "c.png"]
