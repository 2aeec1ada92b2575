"""Run the CLI, batch, render and retarget on models built here and fingerprint every output.

Used to show that a refactor changes nothing a user sees: run it before the change with
``--write before.json``, after it with ``--check before.json``; the second run exits 1 and lists
every file whose bytes differ (or that appeared or vanished).

Models: the oracle detector and pose model of ``tests/oracles.py`` (ONNX Runtime; exact known
outputs) and an architecture-faithful random-weight DWPose-t (torch backend, ``--det none``).
Inputs: three synthetic pictures (one with a bad twin: a corrupt file) and a 12-frame video.

Usage: python tools/compare_outputs.py (--write FILE | --check FILE) [--keep DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import cv2  # noqa: E402
import oracles  # noqa: E402


def _inputs(folder: Path) -> None:
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True)
    for i, (h, w) in enumerate([(480, 640), (720, 512), (300, 300)]):
        img = (rng.random((h, w, 3)) * 60).astype(np.uint8)
        oracles.plant_markers(img, [(w * 0.3, h * 0.4), (w * 0.5, h * 0.5), (w * 0.6, h * 0.7)], 4)
        cv2.imwrite(str(folder / f"img{i}.png"), img)
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    vw = cv2.VideoWriter(str(folder / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 12, (320, 240))
    for t in range(12):
        img = np.zeros((240, 320, 3), np.uint8)
        cv2.circle(img, (100 + 5 * t, 120), 10, (255, 255, 255), -1)
        vw.write(img)
    vw.release()


def _run(args: list[str], log: list) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONHASHSEED="0")
    proc = subprocess.run([sys.executable, "-m", "dwpose_core", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    tmp = str(Path(args[args.index("--out") + 1]).parents[1]) if "--out" in args else "\0"
    log.append({"args": [a if not a.startswith("/") else "<tmp>" for a in args], "rc": proc.returncode,
                "stderr": re.sub(r"in \d+\.\d+ s", "in <t> s", proc.stderr.replace(tmp, "<tmp>"))})


def _fingerprint(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def collect(work: Path) -> dict:
    models, ins, out = work / "models", work / "in", work / "out"
    models.mkdir()
    _inputs(ins)
    det = oracles.make_detector(models / "det.onnx", [(100, 100, 300, 500, 0.9), (350, 120, 560, 600, 0.8)])
    pose = oracles.make_pose(models / "pose.onnx", input_hw=(256, 192))
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_test_models.py"), str(models),
                    "--models", "dw-tt_ucoco", "--formats", "onnx"], check=True, cwd=ROOT,
                   capture_output=True)
    rand = models / "dw-tt_ucoco.onnx"
    ort = ["--det", str(det), "--pose", str(pose), "--backend", "onnxruntime", "-q"]
    log: list = []
    _run([str(ins), "--out", str(out / "main"), *ort, "--feet", "--track", "--smooth", "--face-crops", "128"], log)
    _run([str(ins / "img0.png"), "--out", str(out / "torch"), "--det", "none", "--pose", str(rand),
          "--backend", "torch", "-q", "--profile", "wan_animate"], log)
    _run(["batch", str(ins), "--out", str(out / "batch"), *ort, "--workers", "1"], log)
    _run(["render", str(out / "main" / "clip.json"), "--out", str(out / "render"), "--profile", "vace"], log)
    _run(["render", str(out / "main" / "clip.json"), "--out", str(out / "render_video"), "--video"], log)
    (out / "retarget").mkdir()
    _run(["retarget", str(out / "main" / "clip.json"), "--reference", str(out / "main" / "img1.json"),
          "--out", str(out / "retarget" / "clip.json")], log)
    files = _fingerprint(out)
    # the batch summary records times; its rows are compared without them
    for name in list(files):
        if name.startswith("batch/") and (name.endswith(".csv") or name.endswith(".jsonl")
                                          or name.endswith(".json") and "summary" in name):
            files.pop(name)
    return {"runs": log, "files": files}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", type=Path, help="write the fingerprints here")
    g.add_argument("--check", type=Path, help="compare with fingerprints written before")
    p.add_argument("--keep", type=Path, help="keep the work folder here")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dwpose-compare-"))
    try:
        result = collect(work)
    finally:
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(result['files'])} files from {len(result['runs'])} runs "
          f"(exit codes {[r['rc'] for r in result['runs']]})")
    if args.write:
        args.write.write_text(json.dumps(result, indent=1, sort_keys=True))
        return 0
    before = json.loads(args.check.read_text())
    bad = [f"run {b['args'][:1]}: exit {b['rc']} -> {a['rc']}, stderr {b['stderr']!r} -> {a['stderr']!r}"
           for b, a in zip(before["runs"], result["runs"]) if (b["rc"], b["stderr"]) != (a["rc"], a["stderr"])]
    for name in sorted(set(before["files"]) | set(result["files"])):
        old, new = before["files"].get(name), result["files"].get(name)
        if old != new:
            bad.append(f"{name}: {'missing now' if new is None else 'new' if old is None else 'bytes differ'}")
    for line in bad:
        print(line)
    print("identical" if not bad else f"{len(bad)} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
