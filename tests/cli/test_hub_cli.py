"""`python -m dwpose_core models list | download | verify`, run through hub.cli.main against the fake hub."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


from dwpose_core import hub
from dwpose_core.cli import models as cli
from fakehub import corrupt, make_pose
from fakehub import OFFICIAL_REPO as REPO, SERVED_DETECTOR as DET, SERVED_POSE as POSE


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_found_missing_and_unsupported_models(served, capsys):
    det = put(served.env.ckpts / "yolox_l.onnx", DET)
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = {line.split()[0].rstrip("*"): line for line in out.splitlines() if line and not line.startswith("NAME")}
    assert str(det) in lines["yolox_l.onnx"]
    assert "missing" in lines["dw-ll_ucoco_384.onnx"] and f"{REPO}/resolve/main/dw-ll_ucoco_384.onnx" in out
    assert "not supported" in lines["yolox_l.torchscript.pt"]
    assert f"Downloads go to {served.env.ckpts}" in out
    assert served.count() == 0


def test_the_leading_models_word_is_accepted(served, capsys):
    assert run(capsys, "models", "list", "--kind", "pose")[0] == 0


def test_download_without_names_fetches_the_two_defaults(served, capsys):
    code, out, _ = run(capsys, "download")
    assert code == 0
    assert (served.env.ckpts / "yolox_l.onnx").read_bytes() == DET
    assert (served.env.ckpts / "dw-ll_ucoco_384.onnx").read_bytes() == POSE
    assert out.count("ok") == 2


def test_download_into_a_folder_for_an_offline_machine(served, capsys):
    target = served.env.root / "usb stick"
    code, out, _ = run(capsys, "download", "--dir", str(target), "yolox_l.onnx")
    assert code == 0 and (target / "yolox_l.onnx").read_bytes() == DET
    gets = len(served.gets())
    assert run(capsys, "download", "--dir", str(target), "yolox_l.onnx")[0] == 0  # already there and good
    assert len(served.gets()) == gets


def test_download_force_fetches_again(served, capsys):
    run(capsys, "download", "yolox_l.onnx")
    gets = len(served.gets())
    assert run(capsys, "download", "--force", "yolox_l.onnx")[0] == 0
    assert len(served.gets()) == gets + 1


def test_unknown_or_unsupported_names_are_exit_2_before_anything_is_downloaded(served, capsys):
    code, out, err = run(capsys, "download", "yolox_l.onnx", "yolox_l.onx", "yolox_l.torchscript.pt",
                         "yolo_nas_s_fp16.onnx")
    assert code == 2 and "yolox_l.onnx" in err and "not supported" in err
    assert "yolo_nas_s_fp16.onnx is never downloaded by this pack (Deci's YOLO-NAS weights licence: " \
           "non-commercial use only)" in err
    assert err.count("error:") == 3 and out == ""
    assert served.count() == 0


def test_download_offline_is_exit_2_and_prints_where_to_put_the_file(served, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run(capsys, "download", "yolox_l.onnx", "dw-ll_ucoco_384.onnx")
    assert code == 2 and str(served.env.ckpts) in err and "resolve/main/yolox_l.onnx" in err
    assert err.count("error:") == 1 and "not tried either: dw-ll_ucoco_384.onnx" in err


def test_some_downloads_failing_is_exit_1_and_names_the_failure(served, capsys):
    # the server does not have dw-ll_ucoco.onnx; the detector still downloads
    code, out, err = run(capsys, "download", "dw-ll_ucoco.onnx", "yolox_l.onnx")
    assert code == 1
    assert "dw-ll_ucoco.onnx" in err and "does not have it" in err and err.count("error:") == 1
    assert f"ok    yolox_l.onnx -> {served.env.ckpts / 'yolox_l.onnx'}" in out


def test_every_download_failing_is_exit_2(served, capsys):
    code, _, err = run(capsys, "download", "dw-ll_ucoco.onnx")
    assert code == 2 and err.startswith("error: Could not download")


def test_a_bad_argument_is_one_line_and_exit_2(hub_env, capsys):
    code, out, err = run(capsys, "download", "--bogus")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--bogus" in err and "Traceback" not in err
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "verify", "no-such-model.onnx")[0] == 2


def test_an_unexpected_error_is_one_line_without_debug(hub_env, capsys, monkeypatch):
    from dwpose_core.hub import listing

    monkeypatch.setattr(cli, "list_models", lambda kind=None: 1 / 0)
    code, _, err = run(capsys, "list")
    assert code == 2 and err.strip().count("\n") == 0 and "ZeroDivisionError" in err and "--debug" in err
    assert listing.list_models  # the real one is untouched


def test_verify_reports_good_modified_and_damaged_files(served, capsys):
    put(served.env.ckpts / "yolox_l.onnx", DET)
    variant = put(served.env.ckpts / "dw-ll_ucoco_384.onnx", make_pose(seed=9))
    aux = served.env.ext.parent / "comfyui_controlnet_aux" / "ckpts" / REPO
    broken = put(aux / "yolox_l.onnx", DET[:200])
    code, out, _ = run(capsys, "verify")
    assert code == 1
    assert f"ok    yolox_l.onnx  {served.env.ckpts / 'yolox_l.onnx'}" in out
    assert f"WARN  dw-ll_ucoco_384.onnx  {variant}" in out
    assert f"FAIL  yolox_l.onnx  {broken}" in out and "does not load" in out
    assert served.count() == 0


def test_verify_a_named_model_and_a_path(served, capsys):
    good = put(served.env.root / "x" / "yolox_l.onnx", DET)
    assert run(capsys, "verify", str(good))[0] == 0
    put(served.env.ckpts / "yolox_l.onnx", corrupt(DET))
    code, out, _ = run(capsys, "verify", "yolox_l.onnx", "dw-ll_ucoco_384.onnx")
    assert code == 0 and "WARN" in out and "missing  dw-ll_ucoco_384.onnx" in out


def test_python_dash_m_runs_the_models_command(hub_env):
    proc = subprocess.run([sys.executable, "-m", "dwpose_core", "models", "list", "--kind", "detector"],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "yolox_l.onnx" in proc.stdout and "dw-ll_ucoco_384.onnx" not in proc.stdout


def test_verify_rehashes_a_downloaded_file_even_when_its_timestamp_is_unchanged(served, capsys):
    path = hub.resolve("yolox_l.onnx")
    st = path.stat()
    path.write_bytes(corrupt(DET))  # damage that keeps size and (restored) mtime: only a hash finds it
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    code, out, _ = run(capsys, "verify", "yolox_l.onnx")
    assert code == 1 and "FAIL" in out and "SHA-256" in out


def test_verify_reports_a_symlink_loop_as_a_loop(served, capsys):
    served.env.ckpts.mkdir(parents=True)
    loop = served.env.ckpts / "yolox_l.onnx"
    os.symlink(loop.name, loop)
    code, out, _ = run(capsys, "verify")
    assert code == 1 and f"FAIL  yolox_l.onnx  {loop}" in out and "symbolic link loop" in out
    code, _, err = run(capsys, "verify", str(loop))
    assert code == 2 and "symbolic link loop" in err
