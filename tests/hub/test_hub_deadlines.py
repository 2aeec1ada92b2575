"""A hub that cannot be reached, never answers, trickles its headers or stalls mid-body: a clear error,
within the documented time (DWPOSE_DOWNLOAD_TIMEOUT, small here), printed once, nothing left behind."""
from __future__ import annotations

import logging
import time

import pytest

from dwpose_core import hub
from dwpose_core.hub import http_client
from dwpose_core.cli import models as cli
from fakehub import OFFICIAL_REPO as REPO
from fakehub import closed_port, silent_server, trickle_server, use_files, SERVED_DETECTOR as DET, SERVED_POSE as POSE


@pytest.fixture
def expect_defaults(hub_env, monkeypatch):
    use_files(monkeypatch, {"yolox_l.onnx": DET, "dw-ll_ucoco_384.onnx": POSE})
    return hub_env


def nothing_left(folder) -> bool:
    """No .lock / .cache / partial files: the folder is absent or holds no hidden entries at all."""
    return not folder.exists() or not any(p.name.startswith(".") for p in folder.rglob("*"))


def timed(fn):
    start = time.monotonic()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return exc, time.monotonic() - start
    pytest.fail("no error was raised")


# ---------------------------------------------------------------- unreachable

def test_an_unreachable_hub_fails_fast_with_the_offline_guidance(expect_defaults, monkeypatch, caplog):
    monkeypatch.setenv("HF_ENDPOINT", closed_port())
    with caplog.at_level(logging.INFO, logger="dwpose"):
        exc, took = timed(lambda: hub.resolve("yolox_l.onnx", kind="detector"))
    assert isinstance(exc, hub.DownloadError) and exc.unreachable
    assert took < 10
    text = str(exc)
    assert "cannot be reached" in text and "HF_HUB_OFFLINE=1" in text
    assert str(expect_defaults.ckpts) in text  # where to put the file
    assert f"/{REPO}/resolve/main/yolox_l.onnx" in text  # where to get it
    assert "models download yolox_l.onnx --dir" in text  # what to run elsewhere
    assert not any("cannot be reached" in r.getMessage() for r in caplog.records)  # only the error says it
    assert nothing_left(expect_defaults.ckpts) and not expect_defaults.ckpts.exists()


def test_after_one_unreachable_attempt_the_next_model_fails_at_once(expect_defaults, monkeypatch):
    with silent_server() as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        monkeypatch.setenv("DWPOSE_DOWNLOAD_TIMEOUT", "0.5")
        first, _ = timed(lambda: hub.resolve("yolox_l.onnx"))
        second, took = timed(lambda: hub.resolve("dw-ll_ucoco_384.onnx"))
    assert first.unreachable and second.unreachable and took < 0.2
    assert "dw-ll_ucoco_384.onnx" in str(second)


def test_models_download_against_an_unreachable_hub_is_exit_2_with_one_message(expect_defaults, monkeypatch,
                                                                                 capsys):
    monkeypatch.setenv("HF_ENDPOINT", closed_port())
    target = expect_defaults.root / "usb"
    start = time.monotonic()
    code = cli.main(["download", "--dir", str(target)])
    took = time.monotonic() - start
    out, err = capsys.readouterr()
    assert code == 2 and took < 10
    assert err.count("error:") == 1 and err.count("cannot be reached") == 1
    assert "not tried either: dw-ll_ucoco_384.onnx" in err
    assert "Traceback" not in err and out == ""
    assert not target.exists() and nothing_left(expect_defaults.ckpts)


# ---------------------------------------------------------------- servers that do not answer

def test_a_server_that_accepts_and_never_answers_times_out(expect_defaults, monkeypatch):
    monkeypatch.setenv("DWPOSE_DOWNLOAD_TIMEOUT", "1")
    with silent_server() as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        exc, took = timed(lambda: hub.resolve("yolox_l.onnx"))
    assert isinstance(exc, hub.DownloadError) and "did not answer within 1 s" in str(exc)
    assert 0.9 < took < 4
    assert nothing_left(expect_defaults.ckpts)


def test_a_server_that_trickles_its_headers_hits_the_total_deadline(expect_defaults, monkeypatch):
    # a byte every 50 ms: a per-read timeout would never fire
    monkeypatch.setenv("DWPOSE_DOWNLOAD_TIMEOUT", "1")
    with trickle_server(0.05) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        exc, took = timed(lambda: hub.resolve("yolox_l.onnx"))
    assert isinstance(exc, hub.DownloadError) and "did not answer within 1 s" in str(exc)
    assert 0.9 < took < 4


def test_a_body_that_stalls_is_abandoned_and_nothing_is_kept(served, monkeypatch):
    monkeypatch.setenv("DWPOSE_DOWNLOAD_TIMEOUT", "1")
    served.fault("yolox_l.onnx", "stall", times=None)
    exc, took = timed(lambda: hub.resolve("yolox_l.onnx"))
    assert isinstance(exc, hub.DownloadError) and "stopped sending data" in str(exc)
    assert took < 4
    assert nothing_left(served.env.ckpts) and not (served.env.ckpts / "yolox_l.onnx").exists()


# ---------------------------------------------------------------- the setting

@pytest.mark.parametrize("value,expected", [("", 30.0), ("2.5", 2.5), ("600", 60.0), ("-1", 30.0), ("soon", 30.0)])
def test_the_timeout_setting_has_a_default_and_a_ceiling(monkeypatch, value, expected):
    monkeypatch.setenv("DWPOSE_DOWNLOAD_TIMEOUT", value)
    assert http_client.timeout_setting() == expected
