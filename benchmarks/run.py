"""DWPose benchmark: per-stage milliseconds, frames per second and peak memory per backend.

    python benchmarks/run.py                      # all backends this machine has, all workloads
    python benchmarks/run.py --backends torch-cuda --workloads video --frames 64

Backends: ``ort-cpu`` (ONNX Runtime, CPU provider), ``torch-cpu`` (fp32),
``torch-cuda`` / ``torch-mps`` / ``torch-xpu`` (fp16 by default, when present).
Workloads (frames are 512 wide x 768 high):
  single  one image, one person        detect + pose
  crowd   one image, 8 people, boxes given   pose only
  video   N frames (default 64), one person each   detect + pose, batched
  video-det4  the same frames, detector on every 4th frame only (--det-every 4)
Models are architecture-faithful random-weight files (tools/make_test_models.py)
written to benchmarks/models/ on first use; pass --models-dir to use real ones.
The random detector is made "quiet" (it finds nobody), so the pose stage gets
the workload's given boxes: every frame costs one detector pass and one pose
crop per person, as with real weights. Each backend runs in its own process
so that peak memory (RSS; device memory for GPUs) is its own.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DETECTOR, POSE = "yolox_l", "dw-ll_ucoco_384"
FRAME_HW = (768, 512)
WORKLOADS = ("single", "crowd", "video", "video-det4")
DET_EVERY = 4  # the video-det4 workload: detector on every 4th frame, pose on all


def ensure_models(models_dir: Path, dynamic: bool) -> dict[str, Path]:
    suffix = "_dynamic.onnx" if dynamic else ".onnx"
    paths = {"detector": models_dir / f"{DETECTOR}{suffix}", "pose": models_dir / f"{POSE}{suffix}"}
    missing = [p for p in paths.values() if not p.is_file()]
    if missing:
        from tools.make_test_models import make

        print(f"writing random-weight models to {models_dir} ...", file=sys.stderr)
        make(DETECTOR, models_dir, ("onnx", "dynamic"), quiet_detector=True)
        make(POSE, models_dir, ("onnx", "dynamic"))
    return paths


def frames_and_boxes(n_frames: int, people: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    h, w = FRAME_HW
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n_frames)]
    boxes = []
    for _ in range(people):
        bw, bh = rng.uniform(0.15, 0.5) * w, rng.uniform(0.3, 0.9) * h
        x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        boxes.append([x, y, x + bw, y + bh])
    return frames, np.asarray(boxes, np.float32)


def _sync(device: str) -> None:
    if device.startswith(("cuda", "mps", "xpu")):
        import torch

        getattr(torch, device.split(":")[0]).synchronize()


def measure(backend: str, workloads, n_video: int, repeats: int, models_dir: Path, dynamic: bool,
            det_size: int = 640, pose_batch: str = "file") -> list[dict]:
    """Runs inside the child process for one backend."""
    started = time.perf_counter()
    from dwpose_core.backends import acquire_model, load_detector
    from dwpose_core.stages.detection import PersonDetector
    from dwpose_core.pipeline import WholeBodyEstimator
    from dwpose_core.stages.pose import WholeBodyPoseModel

    if backend == "ort-cpu":
        kwargs = dict(backend="onnxruntime", providers="cpu")
        device = "cpu"
    else:
        device = backend.split("-", 1)[1]
        kwargs = dict(backend="torch", device=device, precision="fp32" if device == "cpu" else PRECISION)
    paths = ensure_models(models_dir, dynamic)
    est = WholeBodyEstimator(detector=paths["detector"], pose=paths["pose"], download=False, **kwargs)
    handles = []
    if det_size != 640:  # the detector at another input size (ONNX Runtime: a graph written once at that size)
        handles.append(load_detector(paths["detector"], det_size=det_size, **kwargs))
        est.detector = PersonDetector(handles[-1], channel_order=est.detector.channel_order, det_size=det_size)
    if pose_batch == "any":  # batch-1 pose files through their dynamic-batch graph
        handles.append(acquire_model(paths["pose"], batch="any", **kwargs))
        est.pose = WholeBodyPoseModel(handles[-1])
    load_ms = (time.perf_counter() - started) * 1000
    gpu = device != "cpu"
    if gpu:
        import torch

        torch.cuda.reset_peak_memory_stats() if device.startswith("cuda") else None
    rows = []
    for workload in workloads:
        n_frames = {"single": 1, "crowd": 1, "video": n_video, "video-det4": n_video}[workload]
        people = 8 if workload == "crowd" else 1
        frames, boxes = frames_and_boxes(n_frames, people)
        frame_index = np.repeat(np.arange(n_frames), people)
        all_boxes = np.tile(boxes, (n_frames, 1))
        det_times, pose_times = [], []
        for rep in range(repeats + 1):  # the first pass warms up (allocations, autotuning)
            t0 = time.perf_counter()
            if workload == "video-det4":
                est.detector(frames[::DET_EVERY])
            elif workload != "crowd":
                est.detector(frames)
            _sync(device)
            t1 = time.perf_counter()
            est.pose(frames, frame_index, all_boxes)
            _sync(device)
            t2 = time.perf_counter()
            if rep:
                det_times.append((t1 - t0) * 1000)
                pose_times.append((t2 - t1) * 1000)
        det, pose = float(np.median(det_times)), float(np.median(pose_times))
        rows.append({"backend": f"{backend} ({est.info['pose'].precision})", "workload": workload,
                     "det_size": det_size, "load_ms": load_ms,
                     "frames": n_frames, "crops": len(all_boxes), "detect_ms": det if workload != "crowd" else None,
                     "pose_ms": pose, "total_ms": det + pose, "fps": n_frames / ((det + pose) / 1000)})
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    peak_dev = None
    if gpu and device.startswith("cuda"):
        import torch

        peak_dev = torch.cuda.max_memory_allocated() / 2**20
    for row in rows:
        row["peak_rss_mb"], row["peak_device_mb"] = peak_rss, peak_dev
    for handle in handles:
        handle.release()
    est.release()
    return rows


def available_backends() -> list[str]:
    found = []
    try:
        import onnxruntime  # noqa: F401

        found.append("ort-cpu")
    except ImportError:
        pass
    try:
        import torch

        found.append("torch-cpu")
        if torch.cuda.is_available():
            found.append("torch-cuda")
        if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
            found.append("torch-mps")
        if hasattr(torch, "xpu") and torch.xpu.is_available():
            found.append("torch-xpu")
    except ImportError:
        pass
    return found


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores", f"Python {platform.python_version()}"]
    try:
        import torch

        parts.append(f"torch {torch.__version__}")
        if torch.cuda.is_available():
            parts.append(torch.cuda.get_device_name(0))
    except ImportError:
        pass
    try:
        import onnxruntime

        parts.append(f"onnxruntime {onnxruntime.__version__}")
    except ImportError:
        pass
    return "; ".join(parts)


def table(rows: list[dict]) -> str:
    head = ("| backend | workload | det size | frames | crops | load ms | detect ms | pose ms | total ms | frames/s "
            "| peak RSS MB | peak GPU MB |")
    lines = [head, "|" + "---|" * 12]
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for r in rows:
        lines.append(f"| {r['backend']} | {r['workload']} | {r.get('det_size', 640)} | {r['frames']} | {r['crops']} "
                     f"| {fmt(r.get('load_ms'), '.0f')} | {fmt(r['detect_ms'], '.1f')} "
                     f"| {r['pose_ms']:.1f} | {r['total_ms']:.1f} | {r['fps']:.2f} | {r['peak_rss_mb']:.0f} "
                     f"| {fmt(r['peak_device_mb'], '.0f')} |")
    return "\n".join(lines)


PRECISION = os.environ.get("DWPOSE_BENCH_PRECISION", "fp16")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="DWPose backend benchmark (prints a markdown table).")
    parser.add_argument("--backends", default=None, help="comma list (default: all available): "
                        "ort-cpu, torch-cpu, torch-cuda, torch-mps, torch-xpu")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--frames", type=int, default=64, help="frames in the video workload")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions (median reported)")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "benchmarks" / "models")
    parser.add_argument("--dynamic", action="store_true", help="use the dynamic-batch ONNX variants")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--det-size", type=int, default=640, help="detector input size (multiple of 32, 320-1280)")
    parser.add_argument("--pose-batch", default="file", choices=["file", "any"],
                        help="any: run batch-1 pose files through their dynamic-batch graph (ONNX Runtime)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    workloads = [w for w in args.workloads.split(",") if w]
    if args.child:
        rows = measure(args.child, workloads, args.frames, args.repeats, args.models_dir, args.dynamic,
                       args.det_size, args.pose_batch)
        print("ROWS " + json.dumps(rows))
        return 0
    ensure_models(args.models_dir, args.dynamic)
    backends = args.backends.split(",") if args.backends else available_backends()
    rows = []
    for backend in backends:
        cmd = [sys.executable, __file__, "--child", backend, "--workloads", ",".join(workloads),
               "--frames", str(args.frames), "--repeats", str(args.repeats), "--models-dir", str(args.models_dir),
               "--det-size", str(args.det_size), "--pose-batch", args.pose_batch]
        if args.dynamic:
            cmd.append("--dynamic")
        print(f"running {backend} ...", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        found = [line for line in proc.stdout.splitlines() if line.startswith("ROWS ")]
        if proc.returncode or not found:
            print(f"{backend} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows += json.loads(found[-1][5:])
    print(f"Machine: {machine()}\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
