"""The GPU check, as one script for a lent machine: the GPU-only tests, then every workload on every
device backend and precision, for the default pair, each preset and each pose model the pack offers.

    python benchmarks/gpu.py --out "$OUT"                # on the GPU machine (device tool)
    python benchmarks/gpu.py --device cpu --quick --out /tmp/g   # the same code paths here, small

Steps, each bounded so that the whole fits the device time (``--budget`` seconds, default 420):
1. ``pytest tests/gpu`` on the device (torch fp16/bf16 against ONNX Runtime on the CPU with the same
   weights and crops, on-device crops and letterbox against OpenCV, out-of-memory halving).
2. Per configuration x backend, in a child process of its own (peak memory is its own): the
   workloads of ``benchmarks/run.py`` (``single``, ``crowd``, ``video``, ``video-det4``; frames
   768 high x 512 wide in host memory) with per-stage milliseconds, plus the end-to-end time of the
   ``video`` workload through the one job (:class:`~dwpose_core.annotate.PoseAnnotator`: frames in
   host memory -> POSE_KEYPOINT, the workload's boxes given) added to its detector time; frames/s,
   pose crops/s and peak device memory. Backends: ``torch-<device>`` at fp32/fp16/bf16, and ONNX
   Runtime's CUDA provider when the installed onnxruntime has it.
Models are architecture-faithful random-weight files (tools/make_test_models.py): the detector is
made quiet and the pose stage gets the workload's boxes, so each frame costs what it costs with the
real weights. Results: ``gpu_results.md`` (table + machine line: card, driver, torch, CUDA) and
``gpu_results.json`` under ``--out``; also printed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_PAIR = ("default", "yolox_l", None, "dw-ll_ucoco_384", False)
QUICK_PAIR = ("quick", "yolox_tiny", None, "dw-tt_ucoco", False)
WORKLOADS = ("single", "crowd", "video", "video-det4")
HAND = "rtmpose-m_hand5_256x256"
DET_EVERY = 4


def configurations(quick: bool) -> list[tuple]:
    """(label, detector stem, det size, pose stem, refine hands) for the default pair, each preset and
    each pose model of the registry that the test-model writer can build."""
    if quick:
        return [QUICK_PAIR, ("quick hand pass", *QUICK_PAIR[1:4], True)]
    found = [DEFAULT_PAIR, ("hand pass", *DEFAULT_PAIR[1:4], True)]
    try:
        from dwpose_core.hub import presets
    except ImportError:
        presets = None
    for name, preset in (getattr(presets, "PRESETS", {}) or {}).items() if presets else ():
        if name == "custom":
            continue
        get = (lambda k, p=preset: p.get(k) if isinstance(p, dict) else getattr(p, k, None))
        found.append((f"preset {name}", _stem(get("detector")), get("det_size"), _stem(get("pose")),
                      bool(get("refine_hands"))))
    from dwpose_core.hub.registry import POSE, specs
    from tools import make_test_models

    buildable = set(getattr(make_test_models, "MODELS", ()) or ())
    stems = [_stem(spec.filename) for spec in specs(POSE)]
    for stem in sorted(stems, key=lambda s: not s.startswith("rtmw")):  # the newer models first
        if stem != DEFAULT_PAIR[3] and (not buildable or stem in buildable):
            found.append((f"pose {stem}", DEFAULT_PAIR[1], None, stem, False))
    unique, seen = [], set()
    for row in found:
        if row[1:] not in seen:
            seen.add(row[1:])
            unique.append(row)
    return unique


def _stem(name):
    return None if name in (None, "none") else Path(str(name)).name.split(".")[0]


def backends_for(device: str, quick: bool, first: bool) -> list[tuple[str, str]]:
    """Every precision (and ONNX Runtime's CUDA provider) for the default pair; fp16, the GPU default, for
    the other configurations, so that the whole run fits the device time."""
    if quick:
        return [(f"torch-{device}", "fp32")]
    if not first:
        return [(f"torch-{device}", "fp16")]
    rows = [(f"torch-{device}", p) for p in ("fp32", "fp16", "bf16")]
    try:
        import onnxruntime

        if "CUDAExecutionProvider" in onnxruntime.get_available_providers() and device.startswith("cuda"):
            rows.append(("ort-cuda", "fp32"))
    except ImportError:
        pass
    return rows


# ------------------------------------------------------------------------------- child process

def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def measure(config: list, backend: str, precision: str, n_video: int, repeats: int, models_dir: Path) -> list[dict]:
    import numpy as np

    from benchmarks.run import frames_and_boxes
    from dwpose_core.annotate import AnnotateOptions, PoseAnnotator
    from dwpose_core.pipeline import WholeBodyEstimator
    from tools.make_test_models import make

    label, det_stem, det_size, pose_stem, refine = config
    device = "cuda" if backend == "ort-cuda" else backend.split("-", 1)[1]
    paths = {}
    for stem, quiet in ((det_stem, True), (pose_stem, False)):
        path = models_dir / f"{stem}.onnx"
        if not path.is_file():
            make(stem, models_dir, ("onnx",), quiet_detector=quiet)
        paths[stem] = path
    kwargs = (dict(backend="onnxruntime", providers="cuda") if backend == "ort-cuda"
              else dict(backend="torch", device=device, precision=precision))
    if det_size:
        kwargs["det_size"] = det_size
    if refine:  # the hand pass: a hand model on each found hand's own crop
        hand = models_dir / f"{HAND}.onnx"
        if not hand.is_file():
            make(HAND, models_dir, ("onnx",))
        kwargs["hand"] = hand
    started = time.perf_counter()
    est = WholeBodyEstimator(detector=paths[det_stem], pose=paths[pose_stem], download=False, **kwargs)
    load_ms = (time.perf_counter() - started) * 1000
    annotator = PoseAnnotator(est, AnnotateOptions())
    if device.startswith("cuda"):
        import torch

        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats()
    rows = []
    for workload in WORKLOADS:
        n_frames = n_video if workload.startswith("video") else 1
        people = 8 if workload == "crowd" else 1
        frames, boxes = frames_and_boxes(n_frames, people)
        index = np.repeat(np.arange(n_frames), people)
        all_boxes = np.tile(boxes, (n_frames, 1))
        det, pose, e2e = [], [], []
        for rep in range(repeats + 1):  # the first pass warms up (allocations, autotuning)
            t0 = time.perf_counter()
            if workload != "crowd":
                est.detector(frames[::DET_EVERY] if workload == "video-det4" else frames)
            _sync(device)
            t1 = time.perf_counter()
            est.pose(frames, index, all_boxes)
            _sync(device)
            t2 = time.perf_counter()
            if workload == "video":  # the one job: frames in host memory -> POSE_KEYPOINT
                annotator(frames, boxes=[boxes] * n_frames, draw=False).pose_keypoint
                _sync(device)
            t3 = time.perf_counter()
            if rep:
                det.append((t1 - t0) * 1000)
                pose.append((t2 - t1) * 1000)
                e2e.append((t3 - t2) * 1000 + (t1 - t0) * 1000)
        d, p = float(np.median(det)), float(np.median(pose))
        row = {"config": label, "backend": backend, "precision": precision, "workload": workload,
               "frames": n_frames, "crops": len(all_boxes), "load_ms": load_ms,
               "detect_ms": d if workload != "crowd" else None, "pose_ms": p,
               "crops_per_s": len(all_boxes) / (p / 1000), "fps": n_frames / ((d + p) / 1000)}
        if workload == "video":
            row["e2e_ms"] = float(np.median(e2e))
            row["e2e_fps"] = n_frames / (row["e2e_ms"] / 1000)
        rows.append(row)
    peak = None
    if device.startswith("cuda"):
        import torch

        peak = torch.cuda.max_memory_allocated() / 2**20
    for row in rows:
        row["peak_device_mb"] = peak
    est.release()
    return rows


# ------------------------------------------------------------------------------- parent

def machine(device: str) -> str:
    """benchmarks/run.py's machine line (CPU, Python, torch, card, onnxruntime) plus the driver, CUDA and
    cuDNN versions the GPU rows need."""
    from benchmarks.run import machine as base

    parts = [base()]
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        if smi.returncode == 0 and smi.stdout.strip():
            parts.append("GPU " + smi.stdout.strip().splitlines()[0] + " (name, driver, memory)")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import torch

        parts.append(f"CUDA {torch.version.cuda}, cuDNN "
                     f"{torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else '-'}")
    except ImportError:
        pass
    parts.append(f"device {device}")
    return "; ".join(parts)


def table(rows: list[dict]) -> str:
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    lines = ["| config | backend | precision | workload | frames | crops | detect ms | pose ms | crops/s | frames/s "
             "| end-to-end frames/s | peak GPU MB |", "|" + "---|" * 12]
    for r in rows:
        lines.append(f"| {r['config']} | {r['backend']} | {r['precision']} | {r['workload']} | {r['frames']} "
                     f"| {r['crops']} | {fmt(r['detect_ms'], '.1f')} | {r['pose_ms']:.1f} | {r['crops_per_s']:.0f} "
                     f"| {r['fps']:.1f} | {fmt(r.get('e2e_fps'), '.1f')} | {fmt(r['peak_device_mb'], '.0f')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_out")))
    p.add_argument("--device", default="cuda", help="torch device (cuda; cpu to try the script here)")
    p.add_argument("--quick", action="store_true", help="small models, 2 video frames, fp32 only (a dry run)")
    p.add_argument("--frames", type=int, default=64, help="frames in the video workloads")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--budget", type=float, default=420, help="seconds for the whole script")
    p.add_argument("--models-dir", type=Path, default=ROOT / "benchmarks" / "models")
    p.add_argument("--skip-tests", action="store_true")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        job = json.loads(args.child)
        rows = measure(job["config"], job["backend"], job["precision"], job["frames"], job["repeats"],
                       Path(job["models_dir"]))
        print("ROWS " + json.dumps(rows))
        return 0
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    args.models_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DWPOSE_TEST_DEVICE=args.device, PYTHONUNBUFFERED="1")
    result = {"machine": machine(args.device), "tests": None, "rows": [], "failed": [], "skipped": []}
    if not args.skip_tests:
        print("GPU-only tests ...", flush=True)
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/gpu"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=max(60, args.budget / 3))
        (args.out / "gpu_tests.log").write_text(proc.stdout + proc.stderr)
        result["tests"] = {"rc": proc.returncode, "summary": (proc.stdout.strip().splitlines() or [""])[-1]}
        print(f"  {result['tests']['summary']}", flush=True)
    frames = 2 if args.quick else args.frames
    repeats = 1 if args.quick else args.repeats
    for number, config in enumerate(configurations(args.quick)):
        for backend, precision in backends_for(args.device, args.quick, first=number == 0):
            job = {"config": list(config), "backend": backend, "precision": precision, "frames": frames,
                   "repeats": repeats, "models_dir": str(args.models_dir)}
            left = args.budget - (time.perf_counter() - started)
            if left < 20:
                result["skipped"].append(f"{config[0]} {backend} {precision}: out of time")
                continue
            print(f"{config[0]}: {backend} {precision} ...", flush=True)
            try:
                proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], cwd=ROOT, env=env,
                                      capture_output=True, text=True, timeout=left - 5)
            except subprocess.TimeoutExpired:
                result["failed"].append(f"{config[0]} {backend} {precision}: timed out")
                continue
            found = [line for line in proc.stdout.splitlines() if line.startswith("ROWS ")]
            if proc.returncode or not found:
                why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                result["failed"].append(f"{config[0]} {backend} {precision}: {why}")
                continue
            result["rows"] += json.loads(found[-1][5:])
    text = (f"Machine: {result['machine']}\n\nGPU-only tests: {result['tests']}\n\n{table(result['rows'])}\n"
            + "".join(f"\nfailed: {f}" for f in result["failed"]) + "".join(f"\nskipped: {s}" for s in result["skipped"])
            + f"\n\n{time.perf_counter() - started:.0f} s in all\n")
    print(text)
    (args.out / "gpu_results.md").write_text(text)
    (args.out / "gpu_results.json").write_text(json.dumps(result, indent=1))
    return 0 if not result["failed"] and (result["tests"] is None or result["tests"]["rc"] == 0) else 1


if __name__ == "__main__":
    sys.exit(main())
