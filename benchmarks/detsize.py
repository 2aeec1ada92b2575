"""Detector input size table: ms per frame for YOLOX-L at each det_size, ONNX Runtime (a graph written
at that size, batch 1 per frame) vs the torch backend on the CPU, with the FLOPs each size costs.

    python benchmarks/detsize.py [--sizes 320,416,512,640] [--frames 2] [--backends ort,torch]

The detector is the architecture-faithful random-weight yolox_l.onnx (tools/make_test_models.py).
FLOPs scale with the input area: 155.6 GFLOPs at 640 (Megvii's figure) x (size / 640)^2.
Which people a smaller size loses is a property of the real weights (small or distant people:
a person s pixels tall in a frame of longer side L is s * size / L pixels tall for the detector;
YOLOX-L's smallest stride is 8), so it is stated in the README from that rule, not measured here.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GFLOPS_640 = 155.6


def detector_file(models_dir: Path) -> Path:
    path = models_dir / "yolox_l.onnx"
    if not path.is_file():
        from tools.make_test_models import make

        make("yolox_l", models_dir, ("onnx",), quiet_detector=True)
    return path


def per_frame(detector, frames, thresholds) -> float:
    detector(frames[:1], thresholds)  # warm-up
    t0 = time.perf_counter()
    for frame in frames:
        detector([frame], thresholds)
    return (time.perf_counter() - t0) / len(frames)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="320,416,512,640")
    p.add_argument("--frames", type=int, default=2)
    p.add_argument("--backends", default="ort,torch")
    p.add_argument("--models-dir", type=Path, default=ROOT / "benchmarks" / "models")
    args = p.parse_args()
    os.environ.setdefault("DWPOSE_CACHE_DIR", str(Path(tempfile.gettempdir()) / "dwpose_bench_cache"))
    from dwpose_core.backends import load_detector
    from dwpose_core.stages.detection import DetectionThresholds, PersonDetector

    path = detector_file(args.models_dir)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (768, 512, 3), dtype=np.uint8) for _ in range(args.frames)]
    thresholds = DetectionThresholds()
    print(f"{'det_size':>8} {'GFLOPs':>7} " + " ".join(f"{b + ' ms':>10}" for b in args.backends.split(",")))
    for size in (int(s) for s in args.sizes.split(",")):
        cells = []
        for backend in args.backends.split(","):
            name = {"ort": "onnxruntime", "torch": "torch"}[backend]
            handle = load_detector(path, det_size=size, backend=name, device="cpu")
            try:
                cells.append(per_frame(PersonDetector(handle, det_size=size), frames, thresholds) * 1000)
            finally:
                handle.release()
        print(f"{size:>8} {GFLOPS_640 * (size / 640) ** 2:>7.1f} " + " ".join(f"{c:>10.0f}" for c in cells),
              flush=True)


if __name__ == "__main__":
    main()
