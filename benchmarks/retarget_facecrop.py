"""Retargeting and face crops of a clip, beyond the estimator: wall and CPU milliseconds.

    python benchmarks/retarget_facecrop.py                 # 300 frames, 1280x720, crops 512
    python benchmarks/retarget_facecrop.py --frames 600 --size 256 --people 2 --repeat 5

The poses are synthetic (a moving, dancing whole-body skeleton with noise, tracked), the
frames random noise; neither the estimator nor file I/O is timed. Prints one line per stage
(best of ``--repeat`` runs) and the total.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwpose_core.animate.face_crops import face_crops  # noqa: E402
from dwpose_core.animate.retarget import retarget  # noqa: E402
from dwpose_core.types import FramePose, Person  # noqa: E402


def synthetic_clip(n_frames: int, n_people: int, width: int, height: int, seed: int = 0) -> list[FramePose]:
    """A base whole-body pose (133 points) per person, swaying and waving, plus 1 px noise."""
    rng = np.random.default_rng(seed)
    base = np.zeros((133, 2))
    body = [(0, -150), (8, -160), (-8, -160), (18, -155), (-18, -155), (45, -110), (-45, -110), (55, -40),
            (-55, -40), (60, 20), (-60, 20), (25, 30), (-25, 30), (28, 130), (-28, 130), (30, 230), (-30, 230)]
    base[:17] = body
    base[17:23] = [(40, 245), (50, 240), (25, 238), (-40, 245), (-50, 240), (-25, 238)]
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    base[23:91] = np.column_stack([22 * np.cos(angles), -145 + 28 * np.sin(angles)])
    for root, wrist in ((91, 9), (112, 10)):
        base[root:root + 21] = base[wrist] + rng.normal(0, 8, (21, 2))
    t = np.arange(n_frames)[:, None]
    frames = [FramePose(width, height) for _ in range(n_frames)]
    for k in range(n_people):
        centre = np.array([width * (k + 1) / (n_people + 1), height * 0.55])
        kp = np.repeat(base[None], n_frames, 0) + centre
        kp[:, :, 0] += 40 * np.sin(t / 30)
        kp[:, 91:112] += 30 * np.column_stack([np.sin(t[:, 0] / 5), np.cos(t[:, 0] / 7)])[:, None]
        kp += rng.normal(0, 1.0, kp.shape)
        scores = rng.uniform(0.5, 1.0, (n_frames, 133))
        for i in range(n_frames):
            lo, hi = kp[i].min(0), kp[i].max(0)
            frames[i].people.append(Person(kp[i], scores[i], np.concatenate([lo, hi]), 0.9, track_id=k))
    return frames


def best_of(repeat: int, fn):
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls) * 1e3, min(cpus) * 1e3, result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--people", type=int, default=1)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--size", type=int, default=512, help="face crop size")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)

    clip = synthetic_clip(args.frames, args.people, args.width, args.height)
    reference = synthetic_clip(1, args.people, 720, 1280, seed=1)[0]
    images = np.random.default_rng(2).integers(0, 256, (args.frames, args.height, args.width, 3), np.uint8)
    retarget(clip[:10], reference)  # warm-up: imports
    face_crops(images[:10], clip[:10], size=args.size)

    rows = []
    rt_wall, rt_cpu, _ = best_of(args.repeat, lambda: retarget(clip, reference))
    rows.append(("retarget", rt_wall, rt_cpu))
    fc_wall, fc_cpu, result = best_of(args.repeat, lambda: face_crops(images, clip, size=args.size))
    tracks = result.tracks
    rows.append((f"face crops ({len(tracks)} x {args.frames} x {args.size}^2)", fc_wall, fc_cpu))
    rows.append(("total", rt_wall + fc_wall, rt_cpu + fc_cpu))
    print(f"{args.frames} frames, {args.people} person(s), {args.width}x{args.height}; best of {args.repeat}")
    for name, wall, cpu in rows:
        print(f"  {name:<40} {wall:8.1f} ms wall  {cpu:8.1f} ms CPU  ({wall / args.frames:.2f} ms/frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
