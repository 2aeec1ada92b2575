"""Work done once: each ONNX file parsed at most once per process, a file's verification remembered
across processes by path, size and mtime (in the per-user cache, never in a model folder); plus the
errors that name what a file is (a pose model given as the detector, a symlink loop)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dwpose_core import hub
from dwpose_core.hub import verify
from dwpose_core.checkpoints import onnx_file
from fakehub import make_detector, make_pose

ROOT = Path(__file__).resolve().parents[2]


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- parsed once per process

def test_check_recognition_and_weight_mapping_share_one_parse(hub_env, models_dir):
    pytest.importorskip("torch")
    from dwpose_core.torch_models.loading import load_weights, recognise

    path = models_dir.get("dw-tt_ucoco")
    before = onnx_file.parse_count
    assert hub.resolve(str(path), kind="pose") == path  # structure check
    assert recognise(path) is not None  # architecture recognition
    spec, state = load_weights(path)  # weight mapping
    assert onnx_file.parse_count == before + 1
    assert spec.input_hw == (256, 192) and state


def test_a_changed_onnx_file_is_parsed_again(hub_env, tmp_path):
    path = put(tmp_path / "det.onnx", make_detector(seed=1))
    first = onnx_file.load(path)
    assert onnx_file.load(path) is first
    put(path, make_detector(seed=2))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert onnx_file.load(path) is not first


# ---------------------------------------------------------------- remembered across processes

def test_a_verdict_is_reused_by_the_next_process_and_redone_for_a_changed_file(hub_env, tmp_path):
    path = put(hub_env.ckpts / "custom_pose.onnx", make_pose(256, 192))
    assert hub.resolve(str(path), kind="pose") == path
    checks, parses = verify.check_count, onnx_file.parse_count
    verify.clear_cache()  # what a new process starts with: nothing in memory
    onnx_file.clear()
    assert hub.resolve(str(path), kind="pose") == path
    assert (verify.check_count, onnx_file.parse_count) == (checks, parses)  # neither checked nor parsed
    # the record is in the per-user cache, not next to the model
    assert list((hub_env.user_cache / "verified").glob("*.json"))
    assert sorted(p.name for p in path.parent.iterdir()) == ["custom_pose.onnx"]
    # a changed file (here: a detector now) is verified again, and the new verdict is used
    put(path, make_detector())
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    verify.clear_cache()
    with pytest.raises(hub.ModelKindError):
        hub.resolve(str(path), kind="pose")
    assert verify.check_count == checks + 1


def test_two_real_processes_verify_an_unchanged_file_once(hub_env, tmp_path):
    path = put(tmp_path / "models" / "p.onnx", make_pose(256, 192))
    code = ("from dwpose_core import hub; from dwpose_core.hub import verify; from dwpose_core.checkpoints import onnx_file; "
            f"hub.resolve({str(path)!r}, kind='pose'); print(verify.check_count, onnx_file.parse_count)")
    env = dict(os.environ, DWPOSE_CACHE_DIR=str(hub_env.user_cache))

    def run():
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert run() == ["1", "1"]
    assert run() == ["0", "0"]
    path.write_bytes(make_pose(256, 192, seed=4))  # other weights, same size: the mtime tells
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert run() == ["1", "1"]


def test_a_verdict_asked_differently_is_not_reused(hub_env, tmp_path):
    path = put(tmp_path / "p.onnx", make_pose(256, 192))
    assert verify.verify_cached(path, kind="pose").ok
    verify.clear_cache()
    assert not verify.verify_cached(path, kind="detector").ok  # another question: checked, not recalled


# ---------------------------------------------------------------- errors that say what a file is

def test_a_pose_model_given_as_the_detector_is_named_as_a_pose_model(hub_env, tmp_path):
    path = put(tmp_path / "dw-ll_ucoco_384.onnx", make_pose())
    with pytest.raises(hub.ModelKindError) as err:
        hub.resolve(str(path), kind="detector")
    text = str(err.value)
    assert str(path) in text and "is a pose model" in text and "simcc_x" in text


def test_a_detector_given_as_the_pose_model_is_named_as_a_detector(hub_env, tmp_path):
    path = put(tmp_path / "mine.onnx", make_detector())
    with pytest.raises(hub.ModelKindError) as err:
        hub.resolve(str(path), kind="pose")
    assert str(path) in str(err.value) and "is a detector model" in str(err.value)


def test_a_pose_checkpoint_given_as_the_detector_is_named_as_a_pose_model(hub_env, models_dir):
    pytest.importorskip("torch")
    path = models_dir.get("dw-tt_ucoco", "pth")
    with pytest.raises(hub.ModelKindError, match=r"is a pose model \(its weights are RTMPose's\)"):
        hub.resolve(str(path), kind="detector")


def test_a_symlink_loop_given_as_a_path_is_reported_as_a_loop(hub_env, tmp_path):
    loop = tmp_path / "yolox_l.onnx"
    os.symlink(loop.name, loop)
    with pytest.raises(hub.ModelNotFoundError) as err:
        hub.resolve(str(loop), kind="detector")
    assert "symbolic link loop" in str(err.value) and str(loop) in str(err.value)


def test_a_symlink_loop_in_a_model_folder_is_reported_as_a_loop(hub_env, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_env.ckpts.mkdir(parents=True)
    a, b = hub_env.ckpts / "yolox_l.onnx", hub_env.ckpts / "other.onnx"
    os.symlink(b.name, a)
    os.symlink(a.name, b)
    with pytest.raises(hub.CorruptModelError) as err:
        hub.resolve("yolox_l.onnx", kind="detector")
    assert f"{a}: it is a symbolic link loop" in str(err.value)
    assert err.value.problems[0][0] == a


def test_a_looping_model_folder_is_reported_as_a_loop(hub_env, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = hub_env.root / "models_link"
    os.symlink(folder.name, folder)
    monkeypatch.setenv("DWPOSE_CKPTS_DIR", str(folder))
    with pytest.raises(hub.CorruptModelError) as err:
        hub.resolve("yolox_l.onnx")
    assert f"{folder}: it is a symbolic link loop" in str(err.value)


def test_the_per_user_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    from dwpose_core.hub import user_cache

    monkeypatch.setenv("DWPOSE_CACHE_DIR", str(tmp_path / "mine"))
    assert user_cache.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("DWPOSE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert user_cache.cache_dir() == tmp_path / "xdg" / "dwpose"
