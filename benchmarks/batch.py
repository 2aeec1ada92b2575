"""Batch command benchmark: clips per minute on this machine, locally and on Ray Data, and the
peak memory of one long video (bounded by the 32-frame chunks, whatever the clip's length).

    python benchmarks/batch.py                           # oracle models, 16 clips of 48 frames 640x360
    python benchmarks/batch.py --clips 64 --frames 96 --ray-cpus 8
    python benchmarks/batch.py --memory 250 1000         # + peak RSS of 1080p clips of 250 and 1000 frames
    python benchmarks/batch.py --det yolox_l.onnx --pose dw-ll_ucoco_384.onnx   # real models

By default the models are the test oracles (tests/oracles.py: tiny ONNX files with the real input
and output contract), so the numbers measure the batch machinery itself (decode, pre/post-
processing, drawing, encoding, JSON, scheduling) rather than the networks; with real models the
network time dominates and the clips per minute follow the per-frame speed of benchmarks/run.py.
Each run is its own process (``python -m dwpose_core batch``), so model loading, and for Ray its
start-up, are counted; the Ray figure is also given without Ray's start-up (a local Ray instance
of ``--ray-cpus`` CPUs started by the driver process, as a running cluster would be).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def write_clip(path: Path, frames: int, size: tuple[int, int], seed: int) -> Path:
    """A noise clip with a moving bright square (something for the decoder and encoder to do)."""
    import cv2

    w, h = size
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
    for i in range(frames):
        frame = np.roll(base, 4 * i, axis=1)
        writer.write(frame)
    writer.release()
    return path


def oracle_models(folder: Path, size: tuple[int, int]) -> list[str]:
    from oracles import make_detector, make_pose

    w, h = size
    scale = 640 / max(w, h)  # the oracle's box is in letterbox pixels: one person in the middle
    box = (w * 0.3 * scale, h * 0.1 * scale, w * 0.7 * scale, h * 0.95 * scale, 0.9)
    det = make_detector(folder / "det.onnx", [box])
    pose = make_pose(folder / "pose.onnx")
    return ["--det", str(det), "--pose", str(pose), "--backend", "onnxruntime"]


DRIVER = """
import sys, time
if int(sys.argv[1]):
    import ray
    ray.init(num_cpus=int(sys.argv[1]), include_dashboard=False)
from dwpose_core.cli import batch
started = time.perf_counter()
code = batch.main(sys.argv[2:])
print("BATCH_SECONDS", time.perf_counter() - started, file=sys.stderr)
sys.exit(code)
"""


def run(args: list[str], ray_cpus=None) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS MiB, exit code, seconds of ``batch.main`` itself) of one batch
    run in its own process; with ``ray_cpus``, on a local Ray instance of that many CPUs started
    by that process first (the batch seconds leave Ray's start-up out)."""
    command = [sys.executable, "-c", DRIVER, str(ray_cpus or 0), *args] + (["--ray"] if ray_cpus else [])
    env = dict(os.environ, RAY_DISABLE_USAGE_STATS="1", PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"batch failed ({code}): {err[-2000:]}")
    inner = [float(line.split()[1]) for line in err.splitlines() if line.startswith("BATCH_SECONDS")]
    return wall, usage.ru_maxrss / 1024, code, inner[0] if inner else wall


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", default="640x360", help="WxH of the clips")
    p.add_argument("--workers", type=int, default=None, help="local workers / Ray actors (default: the command's)")
    p.add_argument("--ray-cpus", type=int, default=os.cpu_count(), help="CPUs of the local Ray instance")
    p.add_argument("--no-ray", action="store_true")
    p.add_argument("--memory", type=int, nargs="*", default=[], metavar="FRAMES",
                   help="also measure peak RSS on 1920x1080 clips of these lengths")
    p.add_argument("--det", default=None, help="real detector (registry name or file) instead of the oracle")
    p.add_argument("--pose", default=None, help="real pose model instead of the oracle")
    p.add_argument("--json", type=Path, default=None, help="write the results here too")
    a = p.parse_args(argv)
    size = tuple(int(v) for v in a.size.lower().split("x"))
    results: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
                                f"Python {platform.python_version()}", "clips": a.clips, "frames": a.frames,
                     "size": a.size, "rows": []}
    with tempfile.TemporaryDirectory(prefix="dwpose-batch-bench-") as tmp:
        tmp = Path(tmp)
        models = oracle_models(tmp, size)
        if a.det or a.pose:
            models = ["--det", a.det or "yolox_l.onnx", "--pose", a.pose or "dw-ll_ucoco_384.onnx"]
        clips = tmp / "clips"
        clips.mkdir()
        for i in range(a.clips):
            write_clip(clips / f"clip{i:04d}.mp4", a.frames, size, i)
        common = ["-q", "--track", *models] + (["--workers", str(a.workers)] if a.workers else [])
        modes = ["local"]
        if not a.no_ray:
            try:
                import ray  # noqa: F401
            except ImportError:
                print("ray is not installed: the Ray figure is left out (pip install -r requirements-ray.txt)")
            else:
                modes.append("ray")
        for name in modes:
            wall, rss, code, inner = run([str(clips), "--out", str(tmp / name), *common],
                                         ray_cpus=a.ray_cpus if name == "ray" else None)
            row = {"mode": name, "seconds": round(wall, 2), "clips_per_min": round(a.clips / wall * 60, 1),
                   "peak_rss_mb": round(rss), "exit": code}
            # the batch itself: without Python's and (for Ray) the Ray instance's start-up
            row["batch_seconds"] = round(inner, 2)
            row["batch_clips_per_min"] = round(a.clips / inner * 60, 1)
            if name == "ray":
                row["note"] = "peak RSS of the driver only: the actors are other processes"
            results["rows"].append(row)
            print(json.dumps(row))
        for frames in a.memory:
            clip = write_clip(tmp / f"long{frames}.mp4", frames, (1920, 1080), 0)
            for label, flags in (("pictures", []), ("json only", ["--no-pictures"])):
                wall, rss, _, _ = run([str(clip), "--out", str(tmp / f"long{frames}-{len(flags)}"), *common, *flags])
                row = {"mode": f"1080p {frames} frames, {label}", "seconds": round(wall, 1),
                       "fps": round(frames / wall, 1), "peak_rss_mb": round(rss)}
                results["rows"].append(row)
                print(json.dumps(row))
    if a.json:
        a.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
