"""Draw one synthetic pose without and with the hand refinement pass, side by side, into a PNG.

    python tools/draw_refinement.py [--out docs/refine_hands.png] [--size 384x576]

No model weights are needed or used. The pose is made here: a standing figure whose true hands
are known; the "whole-body" hands are those hands with the jitter and lost points a whole-body
model shows on small hands (scores 0.35, a third of the points missing). The refinement pass then
runs for real (hand boxes, crops, batched model call, mapping back, the replacement rule of
dwpose_core/stages/hands.py) with an *ideal* stand-in hand model that reports the true hand points
in its crop (score 0.9). So the picture shows what the pass does with a good hand model; it is
not a measurement of the real RTMPose-m hand5 model, whose accuracy on real pictures could not be
measured here. The hand boxes the pass used are drawn in grey on the right panel.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from dwpose_core.render.draw import draw_pose  # noqa: E402
from dwpose_core.stages import hands as hs  # noqa: E402
from dwpose_core.stages.pose import box_to_center_scale, warp_matrices  # noqa: E402
from dwpose_core.types import FramePose, Person  # noqa: E402
import picture_sheet  # noqa: E402
from picture_sheet import label, side_by_side  # noqa: E402

CANVAS = (512, 768)  # W, H
BODY = {0: (256, 120), 1: (272, 104), 2: (240, 104), 3: (292, 116), 4: (220, 116), 5: (326, 190),
        6: (186, 190), 7: (372, 280), 8: (140, 280), 9: (400, 370), 10: (112, 370), 11: (300, 400),
        12: (212, 400), 13: (316, 530), 14: (196, 530), 15: (326, 660), 16: (186, 660)}


def true_hand(wrist, direction: float) -> np.ndarray:
    """21 points: the wrist, then 4 per finger, fanned out below the wrist."""
    pts = [wrist]
    for finger in range(5):
        angle = np.radians(-44 + finger * 22) * direction
        length = (13, 18, 20, 18, 14)[finger]
        for k in range(1, 5):
            pts.append((wrist[0] + length * k * np.sin(angle), wrist[1] + 6 + length * k * np.cos(angle)))
    return np.array(pts, np.float64)


def people():
    """(true person, whole-body person): same body and face, the whole-body hands jittered and partly lost."""
    rng = np.random.default_rng(4)
    kp = np.zeros((133, 2), np.float32)
    for i, xy in BODY.items():
        kp[i] = xy
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    kp[23:91] = np.stack([256 + 26 * np.cos(t), 128 + 32 * np.sin(t)], axis=1)
    kp[91:112] = true_hand(BODY[9], 1.0)
    kp[112:133] = true_hand(BODY[10], -1.0)
    sc = np.full(133, 0.9, np.float32)
    sc[17:23] = 0.0  # no feet in this picture
    truth = Person(kp, sc, [100, 80, 420, 700], 0.9)
    noisy_kp, noisy_sc = kp.copy(), sc.copy()
    for hand in (slice(91, 112), slice(112, 133)):
        noisy_kp[hand] += rng.normal(0, 9.0, (21, 2))
        noisy_sc[hand] = 0.35
        lost = rng.choice(np.arange(hand.start + 1, hand.stop), 7, replace=False)
        noisy_sc[lost] = 0.0
    return truth, Person(noisy_kp, noisy_sc, truth.box, 0.9)


class IdealHandModel:
    """Stand-in for a perfect hand model: SimCC peaks at the true hand points in each crop (in order)."""

    output_names = ("simcc_x", "simcc_y")
    input_hw = (256, 256)
    max_batch = None
    chunk_size = None
    path = Path("ideal_hand_model (illustration)")

    def __init__(self, crop_points: list[np.ndarray]):
        self.crop_points = crop_points

    def run(self, batch: np.ndarray) -> dict:
        n = len(batch)
        sx = np.zeros((n, 21, 512), np.float32)
        sy = np.zeros((n, 21, 512), np.float32)
        for k, pts in enumerate(self.crop_points[:n]):
            bx = np.clip(np.round(pts[:, 0] * 2), 0, 511).astype(int)
            by = np.clip(np.round(pts[:, 1] * 2), 0, 511).astype(int)
            sx[k, np.arange(21), bx] = 0.9
            sy[k, np.arange(21), by] = 0.9
        self.crop_points = self.crop_points[n:]
        return {"simcc_x": sx, "simcc_y": sy}


def refine(truth: Person, noisy: Person):
    boxes = hs.hand_boxes(noisy.keypoints[None], noisy.scores[None])
    center, scale = box_to_center_scale(np.array([b.box for b in boxes]), 1.0)
    mats = warp_matrices(center, scale, (256, 256))
    crop_points = []
    for b, m in zip(boxes, mats):
        hand = slice(91, 112) if b.side == "left" else slice(112, 133)
        pts = truth.keypoints[hand].astype(np.float64)
        crop_points.append(pts @ m[:, :2].T + m[:, 2])
    model = hs.HandPoseModel(IdealHandModel(crop_points))
    frame = np.zeros((CANVAS[1], CANVAS[0], 3), np.uint8)
    result = hs.refine_hands(model, [frame], np.array([0]), noisy.keypoints[None], noisy.scores[None])
    refined = Person(result.keypoints[0], result.scores[0], noisy.box, 0.9, refined_hands=result.refined[0])
    return refined, result.boxes


def sheet(width: int, height: int) -> np.ndarray:
    import cv2

    truth, noisy = people()
    refined, boxes = refine(truth, noisy)
    panels = []
    for title, person in (("whole-body hands", noisy), ("refined: " + ", ".join(refined.refined_hands), refined)):
        panel = draw_pose(FramePose(*CANVAS, [person]), size=(width, height)).copy()
        if person is refined:
            sx, sy = width / CANVAS[0], height / CANVAS[1]
            for b in boxes:
                x1, y1, x2, y2 = b.box
                cv2.rectangle(panel, (int(x1 * sx), int(y1 * sy)), (int(x2 * sx), int(y2 * sy)), (128, 128, 128), 1)
        panels.append(label(panel, title))
    return side_by_side(panels)


def main(argv=None) -> int:
    return picture_sheet.main(sheet, __doc__.splitlines()[0], ROOT / "docs" / "refine_hands.png", "384x576", argv)


if __name__ == "__main__":
    sys.exit(main())
