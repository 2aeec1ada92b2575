"""Pose stage: seconds per crop by chunk size and backend, against the floor set by FLOPs / matmul peak.

    python benchmarks/pose_chunks.py [--crops 8] [--chunks 1,4,8] [--backends ort,torch]

Models: architecture-faithful random-weight files (tools/make_test_models.py, dynamic batch) in
benchmarks/models/. FLOPs per crop from mmpose's model table (it counts multiply-adds; x2 here).
The floor is FLOPs / the plain float32 matmul peak measured first (benchmarks/matmul_peak.py).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# GFLOPs per crop (2 x the GMACs in mmpose's table)
GFLOPS = {"dw-ll_ucoco_384": 20.2, "dw-ll_ucoco": 9.0, "dw-mm_ucoco": 4.4, "dw-ss_ucoco": 1.8, "dw-tt_ucoco": 1.0}


def model_file(models_dir: Path, stem: str) -> Path:
    path = models_dir / f"{stem}_dynamic.onnx"
    if not path.is_file():
        from tools.make_test_models import make

        make(stem, models_dir, ("dynamic",))
    return path


def crops(n: int, hw) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, 3) + tuple(hw)).astype(np.float32)


def time_per_crop(run, batch: np.ndarray, chunk: int) -> float:
    run(batch[:chunk])  # warm-up at this chunk size
    t0 = time.perf_counter()
    for lo in range(0, len(batch), chunk):
        run(batch[lo:lo + chunk])
    return (time.perf_counter() - t0) / len(batch)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="dw-ll_ucoco_384", choices=sorted(GFLOPS))
    p.add_argument("--crops", type=int, default=8)
    p.add_argument("--chunks", default="1,4,8")
    p.add_argument("--backends", default="ort,torch")
    p.add_argument("--models-dir", type=Path, default=ROOT / "benchmarks" / "models")
    args = p.parse_args()
    from benchmarks.matmul_peak import measure

    peak = max(measure(1536, 1.5).values())
    path = model_file(args.models_dir, args.model)
    floor = GFLOPS[args.model] / peak
    print(f"{args.model}: {GFLOPS[args.model]} GFLOPs per crop; matmul peak {peak:.1f} GFLOP/s -> "
          f"floor {floor * 1000:.0f} ms per crop")
    rows = []
    for backend in args.backends.split(","):
        if backend == "ort":
            from dwpose_core.backends.ort_backend import OrtModel

            model = OrtModel(path, providers="cpu")
        else:
            from dwpose_core.backends.torch_backend import TorchModel

            model = TorchModel(path, device="cpu")
        batch = crops(args.crops, model.input_hw)
        for chunk in (int(c) for c in args.chunks.split(",")):
            if backend == "torch":
                model.chunk_size = chunk
            per = time_per_crop(model.run, batch, chunk)
            rows.append((backend, chunk, per))
            print(f"  {backend:5s} chunk {chunk:3d}: {per * 1000:7.0f} ms per crop  ({per / floor:.2f} x floor)",
                  flush=True)
    best = min(rows, key=lambda r: r[2])
    print(f"best: {best[0]} chunk {best[1]}, {best[2] / floor:.2f} x the floor")


if __name__ == "__main__":
    main()
