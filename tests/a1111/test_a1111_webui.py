"""The extension inside a fake A1111, each run in a clean interpreter.

A1111 executes extension scripts by file path with a fresh ``sys.path`` per file
(tests/a1111_stubs/webui/modules/scripts.py does the same), so load order and
"Reload UI" can only be tested faithfully in a process of their own.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from a1111_stubs.scene import ROOT, SCRIPT, STUBS, Scene, build_models, frame_box

FULL, BODY_HANDS = "dwpose_openpose_full", "dwpose_openpose_body_hands"
OURS = {FULL, BODY_HANDS}


def make_webui(tmp_path: Path, *, our_folder: str = "zz-dwpose", controlnet: bool = True) -> Path:
    """<tmp>/webui with extensions/: a copy of this extension's runtime files and the ControlNet stand-in."""
    webui = tmp_path / "webui"
    ext = webui / "extensions"
    ignore = shutil.ignore_patterns("__pycache__")
    ours = ext / our_folder
    for part in ("a1111_dwpose", "dwpose_core", "scripts"):
        shutil.copytree(ROOT / part, ours / part, ignore=ignore)
    if controlnet:
        shutil.copytree(STUBS / "sd-webui-controlnet", ext / "sd-webui-controlnet", ignore=ignore)
    return webui


def run_webui(webui: Path, *, forge: bool = False, reloads: int = 0, detect: dict | None = None,
              env: dict | None = None) -> tuple[dict, str]:
    roots = [str(STUBS / "webui")] + ([str(STUBS / "forge")] if forge else [])
    spec = {"webui_roots": roots, "forge": forge, "extensions_dirs": [str(webui / "extensions")],
            "reloads": reloads, "detect": detect, "out": str(webui / "report.json")}
    (webui / "spec.json").write_text(json.dumps(spec))
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DWPOSE_CKPTS_DIR")}
    environ.update(STUB_WEBUI_ROOT=str(webui), STUB_WEBUI_DATA=str(webui), HF_HUB_OFFLINE="1",
                   HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_CACHE=str(webui / "hf_cache"), PYTHONDONTWRITEBYTECODE="1")
    environ.update(env or {})
    proc = subprocess.run([sys.executable, str(STUBS / "run_webui.py"), str(webui / "spec.json")], cwd=webui,
                          env=environ, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((webui / "report.json").read_text()), proc.stdout


@pytest.mark.parametrize("our_folder", ["00-dwpose", "zz-dwpose"], ids=["we-load-first", "controlnet-loads-first"])
def test_registered_before_the_ui_whatever_the_load_order(tmp_path, our_folder):
    report, stdout = run_webui(make_webui(tmp_path, our_folder=our_folder), reloads=2)
    assert report["load_errors"] == [] and report["callback_errors"] == []
    assert report["sys_path_restored"]
    assert "[DWPose]" not in stdout
    for snap in report["snapshots"]:
        assert snap["before_ui_callbacks"] == 1  # hooked once per script run, never piling up
        if snap["phase"].endswith("before_ui"):
            assert OURS <= set(snap["controlnet_names"])
            ours = [label for label in snap["openpose_dropdown"] if "(DWPose extension)" in label]
            assert len(ours) == 2 and all("openpose" in label for label in ours)
            assert "dw_openpose_full" in snap["openpose_dropdown"]
            assert snap["entries"][FULL]["tags"] == ["OpenPose"]
    at_load = report["snapshots"][0]
    # When ControlNet's registry is already loaded we register at import time.
    assert (OURS <= set(at_load["controlnet_names"])) == (our_folder == "zz-dwpose")
    assert report["heavy_modules"] == []  # no torch / onnxruntime / cv2 at A1111 start-up


def test_no_controlnet_is_one_line_and_no_error(tmp_path):
    report, stdout = run_webui(make_webui(tmp_path, controlnet=False), reloads=1)
    assert report["load_errors"] == [] and report["callback_errors"] == []
    lines = [line for line in stdout.splitlines() if line.startswith("[DWPose]")]
    assert len(lines) == 1 and "sd-webui-controlnet" in lines[0]


def test_forge_builtin_registry(tmp_path):
    report, stdout = run_webui(make_webui(tmp_path, controlnet=False), forge=True, reloads=1)
    assert report["load_errors"] == [] and report["callback_errors"] == []
    assert "[DWPose]" not in stdout
    for snap in report["snapshots"]:
        assert OURS <= set(snap["forge_entries"])
        assert snap["forge_entries"][FULL]["filters"] == ["openpose"]


def test_detect_api_with_our_module_name(tmp_path):
    webui = make_webui(tmp_path)
    # the files sd-webui-controlnet users already have, in its own download folder
    folder = webui / "extensions" / "sd-webui-controlnet" / "annotator" / "downloads" / "openpose"
    build_models(folder, det_name="yolox_l.onnx", pose_name="dw-ll_ucoco.onnx")
    scene = Scene()
    np.save(tmp_path / "frame.npy", scene.image)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    report, _ = run_webui(webui, detect={"module": FULL, "image": str(tmp_path / "frame.npy"),
                                         "resolution": 384, "out_dir": str(out_dir)},
                          env={"DWPOSE_A1111_BACKEND": "onnxruntime", "DWPOSE_A1111_POSE": "dw-ll_ucoco.onnx"})
    assert report["detect"]["info"] == "Success" and report["unload_unused_ok"]
    image = np.load(out_dir / "image0.npy")
    assert image.dtype == np.uint8 and min(image.shape[:2]) == 384 and image.shape[2] == 3
    from dwpose_core.formats.pose_json import from_pose_keypoint

    (pose,) = report["detect"]["poses"]
    person = from_pose_keypoint(pose)[0].people[0]
    kept = np.r_[3:17, 23:133]  # the ControlNet variants keep no feet
    np.testing.assert_allclose(person.keypoints[kept], scene.fixed[kept - 3], atol=1e-3)
    np.testing.assert_allclose(person.box, frame_box(), atol=1e-3)


def test_importing_the_script_without_a1111_does_nothing(tmp_path):
    probe = f"""
import importlib.util, io, json, runpy, sys, contextlib
path_before, modules_before = list(sys.path), set(sys.modules)
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    runpy.run_path({str(SCRIPT)!r})
    spec = importlib.util.spec_from_file_location("dwpose_a1111_preprocessor.py", {str(SCRIPT)!r})
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
new = sorted(set(sys.modules) - modules_before)
print(json.dumps({{"path_same": sys.path == path_before, "new": new, "output": out.getvalue()}}))
"""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["path_same"] and result["output"] == ""
    ours_or_heavy = ("a1111_dwpose", "dwpose_core", "scripts", "modules", "torch", "onnxruntime", "cv2", "numpy")
    assert not [m for m in result["new"] if m.split(".")[0] in ours_or_heavy]
