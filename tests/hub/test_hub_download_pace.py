"""Downloads that never end, answers that come late, temporaries a killed download left, and the progress
a download shows (issue 24, items 3-5), against the fake hub on 127.0.0.1. The rate, window and deadline
are made small through their settings (DWPOSE_DOWNLOAD_TIMEOUT, DWPOSE_DOWNLOAD_MIN_RATE)."""
from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
import time

import pytest

from dwpose_core import hub
from dwpose_core.hub import download as dl
from dwpose_core.hub import http_client
from fakehub import SERVED_DETECTOR as DET
from fakehub import SERVED_POSE as POSE


def within(seconds: float, fn):
    """(result or exception, seconds taken); fails the test instead of hanging when fn runs longer."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            box["value"] = exc

    start = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still running after {seconds} s")
    return box["value"], time.monotonic() - start


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.exists() else []


# ---------------------------------------------------------------- item 3: a body that trickles

def test_a_body_trickled_one_byte_every_half_second_is_abandoned_with_one_message(served, monkeypatch):
    monkeypatch.setenv("DWPOSE_DOWNLOAD_TIMEOUT", "1")  # the window the rate is measured over
    monkeypatch.setenv("DWPOSE_DOWNLOAD_MIN_RATE", "0.05")  # 50 bytes/s; the trickle is 2 bytes/s
    served.fault("yolox_l.onnx", "trickle", times=None, pause=0.5)
    exc, took = within(8, lambda: hub.resolve("yolox_l.onnx"))
    assert isinstance(exc, hub.DownloadError), exc
    text = str(exc)
    assert "slower than the minimum of 0.05 kB/s" in text and "DWPOSE_DOWNLOAD_MIN_RATE" in text
    assert text.count("slower than") == 1 and "Nothing partial was kept" in text
    assert took < 4
    assert hidden(served.env.ckpts) == [] and not (served.env.ckpts / "yolox_l.onnx").exists()


def test_a_body_at_a_fair_rate_is_not_cut(served, monkeypatch):
    # a slow body (2 kB every 0.1 s: 20 kB/s) above the minimum (5 kB/s) arrives whole
    monkeypatch.setenv("DWPOSE_DOWNLOAD_TIMEOUT", "1")
    monkeypatch.setenv("DWPOSE_DOWNLOAD_MIN_RATE", "5")
    served.fault("yolox_l.onnx", "trickle", times=None, at=2000, pause=0.1)
    path, _took = within(20, lambda: hub.resolve("yolox_l.onnx"))
    assert not isinstance(path, Exception), path
    assert path.read_bytes() == DET


def test_the_total_deadline_follows_from_the_size_and_the_minimum_rate():
    clock = [100.0]
    pace = http_client.BodyPace(10_000, window=2.0, min_rate=1000.0, clock=lambda: clock[0])
    assert pace.allowed == pytest.approx(2.0 + 10.0)  # the window, plus 10 kB at 1 kB/s
    # bursts that pass every window, but whose sum misses the deadline
    for step in range(1, 12):
        clock[0] = 100.0 + step
        pace.check(step * 1000)
    clock[0] = 100.0 + 12.5
    with pytest.raises(http_client.TooSlow, match=r"9\.5 kB of 10\.0 kB in 12 s, slower than the minimum of 1 kB/s"):
        pace.check(9500)
    assert pace.read_wait() == pytest.approx(0.01)  # nothing left to wait for


def test_the_rate_is_measured_over_the_last_window_not_since_the_start():
    clock = [0.0]
    pace = http_client.BodyPace(None, window=2.0, min_rate=1000.0, clock=lambda: clock[0])
    clock[0] = 1.0
    pace.check(50_000)  # a fast start ...
    clock[0] = 2.0
    pace.check(50_000)
    clock[0] = 3.5
    with pytest.raises(http_client.TooSlow):  # ... does not pay for a stall of 2.5 s at a trickle
        pace.check(50_100)


def test_the_minimum_rate_setting(monkeypatch):
    monkeypatch.delenv("DWPOSE_DOWNLOAD_MIN_RATE", raising=False)
    assert http_client.min_rate_setting() == 20_000
    monkeypatch.setenv("DWPOSE_DOWNLOAD_MIN_RATE", "2.5")
    assert http_client.min_rate_setting() == 2500
    monkeypatch.setenv("DWPOSE_DOWNLOAD_MIN_RATE", "fast")
    assert http_client.min_rate_setting() == 20_000


# ---------------------------------------------------------------- item 3: the answer's wait

def test_the_timeout_setting_governs_the_wait_for_an_answer_not_the_connect_limit(served, monkeypatch):
    monkeypatch.setattr(http_client, "CONNECT_TIMEOUT", 0.3)  # stands for the 8 s connect limit
    monkeypatch.setenv("DWPOSE_DOWNLOAD_TIMEOUT", "4")
    served.fault("yolox_l.onnx", "delay", times=None, pause=1.0)  # answers after 1 s (> 0.3, < 4)
    path, took = within(10, lambda: hub.resolve("yolox_l.onnx"))
    assert not isinstance(path, Exception), path
    assert path.read_bytes() == DET and took >= 1.0


def test_a_late_answer_past_the_timeout_says_to_raise_it(served, monkeypatch):
    monkeypatch.setenv("DWPOSE_DOWNLOAD_TIMEOUT", "0.5")
    served.fault("yolox_l.onnx", "delay", times=None, pause=2.0)
    exc, took = within(6, lambda: hub.resolve("yolox_l.onnx"))
    assert isinstance(exc, hub.DownloadError) and exc.unreachable
    assert "did not answer within 0.5 s" in str(exc) and "raise DWPOSE_DOWNLOAD_TIMEOUT" in str(exc)
    assert took < 2


def test_an_unreachable_hub_does_not_advise_a_timeout_that_would_not_help(hub_env, monkeypatch):
    from fakehub import closed_port, use_files

    use_files(monkeypatch, {"yolox_l.onnx": DET})
    monkeypatch.setenv("HF_ENDPOINT", closed_port())
    exc, _ = within(10, lambda: hub.resolve("yolox_l.onnx"))
    assert isinstance(exc, hub.DownloadError) and "cannot be reached" in str(exc)
    assert "DWPOSE_DOWNLOAD_TIMEOUT" not in str(exc) and "HF_HUB_OFFLINE=1" in str(exc)


# ---------------------------------------------------------------- item 4: a killed download's temporary

def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid  # gone (reaped): no process has it, barring reuse in the next instants


def test_a_killed_downloads_temporary_is_removed_by_the_next_download(served):
    served.env.ckpts.mkdir(parents=True)
    stale = served.env.ckpts / f".yolox_l.onnx.{_dead_pid()}.140000.part"
    stale.write_bytes(DET[:1000])
    other_stale = served.env.ckpts / f".dw-ll_ucoco_384.onnx.{_dead_pid()}.7.part"
    other_stale.write_bytes(b"x")
    assert hub.resolve("yolox_l.onnx").read_bytes() == DET
    assert hidden(served.env.ckpts) == []


def test_a_live_processes_temporary_and_other_files_are_kept(served):
    served.env.ckpts.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)  # another download of this process
    other.start()
    try:
        live = served.env.ckpts / f".yolox_l.onnx.{sleeper.pid}.1.part"
        live.write_bytes(b"in progress")
        mine = served.env.ckpts / f".yolox_l.onnx.{os.getpid()}.{other.ident}.part"
        mine.write_bytes(b"another thread's")
        user_file = served.env.ckpts / ".yolox_l.onnx.old.part"  # not our naming
        user_file.write_bytes(b"keep")
        hub.resolve("yolox_l.onnx")
        assert sorted(hidden(served.env.ckpts)) == sorted([live.name, mine.name, user_file.name])
    finally:
        release.set()
        sleeper.kill()
        sleeper.wait()


def test_process_alive_tells_a_live_process_from_a_gone_one():
    assert dl._process_alive(os.getpid())
    assert not dl._process_alive(_dead_pid())


# ---------------------------------------------------------------- item 5: progress

class Recorder:
    instances: list = []

    def __init__(self, total, label):
        self.total, self.label, self.updates, self.closed = total, label, [], False
        Recorder.instances.append(self)

    def update(self, n):
        self.updates.append(n)

    def close(self):
        self.closed = True


@pytest.fixture
def recorder():
    Recorder.instances = []
    previous = dl.set_progress_factory(Recorder)
    yield Recorder
    dl.set_progress_factory(previous)


def test_a_progress_hook_sees_the_size_and_every_byte(served, recorder):
    hub.resolve("dw-ll_ucoco_384.onnx")
    (bar,) = recorder.instances
    assert bar.total == len(POSE) and bar.label == "dw-ll_ucoco_384.onnx"
    assert sum(bar.updates) == len(POSE) and bar.closed


def test_progress_updates_are_throttled(served, recorder, monkeypatch):
    # 1 byte per read for 0.6 s would be thousands of updates; the hook is told about every 0.1 s
    monkeypatch.setenv("DWPOSE_DOWNLOAD_MIN_RATE", "0.01")
    monkeypatch.setattr(dl, "CHUNK", 1)
    served.fault("yolox_l.onnx", "delay", times=None, pause=0.0)
    hub.resolve("yolox_l.onnx")
    (bar,) = recorder.instances
    assert sum(bar.updates) == len(DET) and len(bar.updates) < 60


def test_a_hook_that_raises_cancels_the_download_and_keeps_nothing(served):
    class Interrupt(Exception):
        pass

    class Cancelling(Recorder):
        def update(self, n):
            raise Interrupt("the user pressed cancel")

    previous = dl.set_progress_factory(Cancelling)
    try:
        served.fault("yolox_l.onnx", "trickle", times=None, pause=0.02)
        with pytest.raises(Interrupt):
            hub.resolve("yolox_l.onnx")
    finally:
        dl.set_progress_factory(previous)
    assert hidden(served.env.ckpts) == [] and not (served.env.ckpts / "yolox_l.onnx").exists()


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_default_progress_is_a_tqdm_bar_on_a_terminal(served, monkeypatch, caplog):
    from dwpose_core.hub import download

    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(download, "_progress_factory", None)  # the default (a host may have set its own)
    monkeypatch.setattr(download.log, "disabled", False)
    # as without -q (an earlier test may have set -q on either logger)
    with caplog.at_level(logging.INFO, logger="dwpose"), caplog.at_level(logging.INFO, logger="dwpose.hub"):
        hub.resolve("yolox_l.onnx")
    text = err.getvalue()
    assert "yolox_l.onnx" in text and "100%" in text and "B/s" in text


def test_no_bar_when_stderr_is_not_a_terminal_or_warnings_are_off(served, monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    logging.getLogger("dwpose").setLevel(logging.INFO)
    hub.resolve("yolox_l.onnx")
    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    logging.getLogger("dwpose").setLevel(logging.ERROR)  # what -q sets
    try:
        hub.resolve("dw-ll_ucoco_384.onnx")
    finally:
        logging.getLogger("dwpose").setLevel(logging.NOTSET)
    assert err.getvalue() == "" and tty.getvalue() == ""
