"""Drawing and post-processing cost of a clip, against the pose stage's.

    python benchmarks/drawing.py [--frames 300] [--people 1] [--pose-ms-per-crop 367]

Times, for an N-frame 512x768 clip of planted people: drawing every pose picture with each render
profile, POSE_KEYPOINT export, and (for the ratio) the pose stage's time for the same crops, either
measured here with the random-weight DWPose-l 384x288 model (``--measure-pose``, slow on a CPU) or
taken from ``--pose-ms-per-crop`` (default: this machine's measurement in the README).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dwpose_core.formats.pose_json import to_pose_keypoint  # noqa: E402
from dwpose_core.render.profiles import PROFILES  # noqa: E402
from dwpose_core.render.draw import draw_pose  # noqa: E402
from dwpose_core.types import FramePose, Person  # noqa: E402

W, H = 512, 768


def clip(n: int, people: int, seed: int = 0) -> list[FramePose]:
    rng = np.random.default_rng(seed)
    base = np.stack([rng.uniform(150, 360, 133), rng.uniform(100, 700, 133)], axis=1)
    frames = []
    for t in range(n):
        ps = []
        for k in range(people):
            kp = base + [k * 40 + 3 * np.sin(t / 9), 2 * np.cos(t / 7)]
            ps.append(Person(kp, rng.uniform(0.2, 1.0, 133), [100, 80, 420, 720], 0.9))
        frames.append(FramePose(W, H, ps))
    return frames


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--people", type=int, default=1)
    p.add_argument("--pose-ms-per-crop", type=float, default=367.0)
    args = p.parse_args(argv)
    frames = clip(args.frames, args.people)
    pose_s = args.pose_ms_per_crop / 1000 * args.frames * args.people
    print(f"{args.frames} frames of {W}x{H}, {args.people} person(s) each; pose stage "
          f"{pose_s:.1f} s at {args.pose_ms_per_crop:.0f} ms/crop")
    print("| step | total s | ms/frame | share of the pose stage |")
    print("|---|---|---|---|")
    export = timed(lambda: to_pose_keypoint(frames))
    print(f"| POSE_KEYPOINT export | {export:.3f} | {1000 * export / args.frames:.2f} | {100 * export / pose_s:.2f}% |")
    for name in PROFILES:
        draw = timed(lambda: [draw_pose(f, profile=name) for f in frames])
        print(f"| draw `{name}` | {draw:.3f} | {1000 * draw / args.frames:.2f} | {100 * draw / pose_s:.2f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
