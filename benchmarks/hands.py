"""Hand refinement: what it adds per hand, against what one more body crop costs (CPU by default).

    python benchmarks/hands.py [--body dw-ll_ucoco_384] [--backends ort,torch] [--repeats 5]

A frame with two people and four found hands: the body pose stage on the two person boxes, then
the refinement pass (four 256x256 hand crops, one batched call, the replacement rule). Reported:
body ms per crop, refinement ms per hand (crop, model, mapping back, rule: everything the pass
adds), and their ratio; the goal is a ratio <= 1 (each refined hand costs at most one more body
crop). Models: architecture-faithful random-weight files (tools/make_test_models.py, dynamic batch)
in benchmarks/models/: random weights cost the same FLOPs as real ones. Best of ``--repeats`` runs.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HAND = "rtmpose-m_hand5_256x256"
BODIES = ("dw-ll_ucoco_384", "dw-ll_ucoco", "rtmw-l_384x288", "rtmw-l_256x192", "rtmw-m_256x192")


def model_file(models_dir: Path, stem: str) -> Path:
    path = models_dir / f"{stem}_dynamic.onnx"
    if not path.is_file():
        from tools.make_test_models import make

        make(stem, models_dir, ("dynamic",))
    return path


def two_people_four_hands(frame_hw=(720, 1280)):
    """A textured frame, two person boxes, and whole-body keypoints with both wrists (and hands) found."""
    rng = np.random.default_rng(0)
    frame = np.repeat(np.repeat(rng.integers(0, 256, (frame_hw[0] // 8, frame_hw[1] // 8, 3), np.uint8), 8, 0), 8, 1)
    boxes = np.array([[200.0, 100.0, 560.0, 700.0], [700.0, 80.0, 1080.0, 710.0]])
    kp = np.zeros((2, 133, 2), np.float32)
    sc = np.zeros((2, 133), np.float32)
    for n, (x1, y1, x2, y2) in enumerate(boxes):
        cx = (x1 + x2) / 2
        for elbow, wrist, first, dx in ((7, 9, 91, -1), (8, 10, 112, 1)):
            kp[n, elbow] = (cx + dx * 90, y1 + 260)
            kp[n, wrist] = (cx + dx * 120, y1 + 340)
            hand = kp[n, wrist] + rng.uniform(-30, 30, (21, 2)) + (dx * 20, 35)
            kp[n, first:first + 21] = hand
            sc[n, [elbow, wrist]] = 0.9
            sc[n, first:first + 21] = 0.4
    return frame, boxes, kp, sc


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up (graph optimisation, allocations)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--body", default="dw-ll_ucoco_384", help=f"body model: {', '.join(BODIES)}")
    p.add_argument("--backends", default="ort,torch")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--models-dir", type=Path, default=ROOT / "benchmarks" / "models")
    args = p.parse_args()

    from dwpose_core.backends import load_model
    from dwpose_core.stages.hands import load_hand_model, refine_hands
    from dwpose_core.stages.pose import WholeBodyPoseModel

    body_path, hand_path = model_file(args.models_dir, args.body), model_file(args.models_dir, HAND)
    frame, boxes, kp, sc = two_people_four_hands()
    index = np.zeros(len(boxes), np.int64)
    print(f"two people, four hands; body {args.body}, hand {HAND}; best of {args.repeats}")
    print(f"{'backend':<12}{'body ms/crop':>14}{'refine ms/hand':>16}{'ratio':>8}  goal <= 1")
    for backend in args.backends.split(","):
        name = {"ort": "onnxruntime"}.get(backend, backend)
        try:
            body = WholeBodyPoseModel(load_model(body_path, backend=name, device="cpu"))
            hand = load_hand_model(load_model(hand_path, backend=name, device="cpu"))
        except Exception as exc:  # e.g. torch not installed
            print(f"{backend:<12}skipped: {exc}")
            continue
        body_s = best_of(lambda: body([frame], index, boxes), args.repeats) / len(boxes)
        result = refine_hands(hand, [frame], index, kp, sc)
        assert len(result.boxes) == 4, "the benchmark frame must have four found hands"
        hand_s = best_of(lambda: refine_hands(hand, [frame], index, kp, sc), args.repeats) / 4
        print(f"{backend:<12}{body_s * 1000:>14.1f}{hand_s * 1000:>16.1f}{hand_s / body_s:>8.2f}  "
              f"{'ok' if hand_s <= body_s else 'OVER'}")


if __name__ == "__main__":
    main()
