"""The batch journal is data from disk: whatever is in it, later runs read what they can, skip the rest
with one warning, and go on."""
import json
import logging
from pathlib import Path

import pytest

from dwpose_core.batch import journal as bj

GOOD = {"input": "in/a.png", "output": "out/a.json", "kind": "image", "status": "done", "frames": 1,
        "people": [1], "seconds": 0.5, "error": None, "attempts": 1}


@pytest.mark.parametrize("bad", [
    json.dumps(dict(GOOD, output=[1, 2])),
    json.dumps(dict(GOOD, frames="many")),
    json.dumps(dict(GOOD, people=[1, None])),
    json.dumps(dict(GOOD, status="weird")),
    json.dumps([GOOD]),
    "[" * 100_000 + "]" * 100_000,
    '{"output": ' + "7" * 5000 + "}",
    "x" * (50 << 20),
])
def test_bad_lines_are_skipped_and_counted_in_one_warning(tmp_path, bad, caplog):
    other = dict(GOOD, input="in/b.png", output="out/b.json")
    (tmp_path / bj.JOURNAL_NAME).write_text("\n".join([json.dumps(GOOD), bad, bad, json.dumps(other)]) + "\n")
    with caplog.at_level(logging.WARNING, logger="dwpose"):
        rows = bj.read_journal(tmp_path)
    assert rows == [GOOD, other]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "2 unreadable line(s) skipped" in warnings[0] and len(warnings[0]) < 300
    assert bj.done_by_output(rows) == {"out/a.json": GOOD, "out/b.json": other}


def test_a_line_torn_by_a_kill_is_ignored_silently(tmp_path, caplog):
    (tmp_path / bj.JOURNAL_NAME).write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD)[:30])
    with caplog.at_level(logging.WARNING, logger="dwpose"):
        assert bj.read_journal(tmp_path) == [GOOD]
    assert not caplog.records


def test_a_journal_that_is_a_folder_is_one_warning_and_the_run_goes_on(tmp_path, caplog):
    (tmp_path / bj.JOURNAL_NAME).mkdir()
    with caplog.at_level(logging.WARNING, logger="dwpose"):
        assert bj.read_journal(tmp_path) == []
        with bj.Journal(tmp_path) as journal:
            journal.record(GOOD)  # nowhere to keep it: nothing happens
    assert len(caplog.records) == 2 and all(bj.JOURNAL_NAME in r.getMessage() for r in caplog.records)


def test_a_complete_input_whose_json_is_hostile_gets_a_row_with_the_reason(tmp_path):
    from dwpose_core.files.inputs import InputFile

    item = InputFile(Path("in/a.png"), "image", Path("a"))
    (tmp_path / "a.json").write_text("[" * 100_000 + "]" * 100_000)
    row = bj.skipped_row(item, tmp_path, {})
    assert row["status"] == "skipped" and "could not be read back" in row["error"] and "nests deeper" in row["error"]


HOLD = "import sys, time; sys.path.insert(0, {root!r}); from dwpose_core.batch.journal import RunLock; " \
       "RunLock({out!r}).acquire(); print('held', flush=True); time.sleep(60)"


def test_one_run_per_output_folder_and_a_killed_run_never_leaves_it_locked(tmp_path):
    import signal
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    holder = subprocess.Popen([sys.executable, "-c", HOLD.format(root=root, out=str(tmp_path))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(bj.FolderBusyError, match=rf"another batch run \(PID {holder.pid}\) is writing to"):
            bj.RunLock(tmp_path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: no clean-up ran
        holder.wait()
    with bj.RunLock(tmp_path):
        with pytest.raises(bj.FolderBusyError):  # held by this process now: a second run here is refused too
            bj.RunLock(tmp_path).acquire()
    bj.RunLock(tmp_path).acquire().release()


def test_resuming_with_other_options_is_refused_naming_each_difference(tmp_path):
    from dwpose_core.annotate import AnnotateOptions, Parts
    from dwpose_core.estimator_pool import ModelSetup

    setup = ModelSetup("det.onnx", "pose.onnx")
    old = bj.job_record(setup, AnnotateOptions(smoothing=0.5))
    bj.check_job_record(tmp_path, old, resuming=False)  # a first run records its options
    assert json.loads((tmp_path / bj.OPTIONS_NAME).read_text()) == old
    bj.check_job_record(tmp_path, old, resuming=True)  # the same options: resumes
    new = bj.job_record(ModelSetup("det.onnx", "other.onnx"),
                        AnnotateOptions(smoothing=1.0, parts=Parts(feet=True), profile="wan_animate"))
    with pytest.raises(bj.OptionsChangedError) as info:
        bj.check_job_record(tmp_path, new, resuming=True)
    message = str(info.value)
    assert "\n" not in message and "--redo" in message
    for change in ("--pose pose.onnx -> other.onnx", "--smooth 0.5 -> 1.0", "--feet false -> true",
                   "--profile controlnet -> wan_animate"):
        assert change in message
    assert json.loads((tmp_path / bj.OPTIONS_NAME).read_text()) == old  # refused: nothing recorded
    bj.check_job_record(tmp_path, new, resuming=False)  # --redo (or nothing to skip): the new options
    assert json.loads((tmp_path / bj.OPTIONS_NAME).read_text()) == new
