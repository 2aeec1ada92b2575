"""The machine's practical float32 peak: GFLOP/s of a plain matrix multiply (numpy's BLAS, and torch's
when installed), all cores. The pose stage's floor per crop is its FLOPs divided by this number.

    python benchmarks/matmul_peak.py [--n 2048] [--seconds 3]

A multiply of two n x n matrices counts 2 n^3 FLOPs (a multiply-add is two). The best of several
timed repetitions is reported, after one warm-up, since other processes can only slow it down.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np


def best_gflops(matmul, a, b, seconds: float) -> float:
    n = a.shape[0]
    matmul(a, b)  # warm-up (thread pool start, page faults)
    best, spent = float("inf"), 0.0
    while spent < seconds:
        t0 = time.perf_counter()
        matmul(a, b)
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
    return 2.0 * n ** 3 / best / 1e9


def measure(n: int = 2048, seconds: float = 3.0) -> dict[str, float]:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = {"numpy": best_gflops(np.matmul, a, b, seconds)}
    try:
        import torch
    except ImportError:
        return out
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    with torch.inference_mode():
        out["torch"] = best_gflops(torch.matmul, ta, tb, seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--seconds", type=float, default=3.0, help="timed repetitions per library")
    args = parser.parse_args()
    results = measure(args.n, args.seconds)
    print(f"float32 matmul {args.n}x{args.n}, {os.cpu_count()} logical cores:")
    for lib, gflops in results.items():
        print(f"  {lib:6s} {gflops:8.1f} GFLOP/s")
    print(f"peak {max(results.values()):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
