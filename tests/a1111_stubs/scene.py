"""Shared pieces of the A1111 tests (tests/a1111/test_a1111_*.py): the stand-ins' location, an oracle scene, and
geometry written from REFERENCE.md (independent of dwpose_core)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import oracles

ROOT = Path(__file__).resolve().parents[2]
STUBS = Path(__file__).resolve().parent
SCRIPT = ROOT / "scripts" / "dwpose_a1111_preprocessor.py"

POSE_HW = (256, 192)
FRAME_HW = (360, 480)  # H, W
DET_BOX_MODEL = (100.0, 50.0, 400.0, 450.0)  # in the detector's 640 x 640 letterbox

# OpenPose-18 limbs and the COCO index of each OpenPose joint (neck = -1: shoulder midpoint)
OPENPOSE_LIMBS = [(1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
                  (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17)]
OPENPOSE_FROM_COCO = [0, -1, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3]
HAND_EDGES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
              (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20)]
LEFT_HAND, RIGHT_HAND = 91, 112
NOSE_RGB = (255, 0, 0)


def frame_box() -> np.ndarray:
    """The detector oracle's box in frame pixels: letterbox scale r = min(640/h, 640/w)."""
    r = min(640 / FRAME_HW[0], 640 / FRAME_HW[1])
    return np.asarray(DET_BOX_MODEL, np.float64) / r


def build_models(folder: Path, det_name: str = "det_oracle.onnx", pose_name: str = "pose_oracle.onnx"
                 ) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    det = oracles.make_detector(folder / det_name, [(*DET_BOX_MODEL, 0.9)])
    pose = oracles.make_pose(folder / pose_name, input_hw=POSE_HW)
    return det, pose


def _segment_distance(p, a, b) -> float:
    p, a, b = (np.asarray(v, np.float64) for v in (p, a, b))
    ab = b - a
    t = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0, 1))
    return float(np.hypot(*(p - (a + t * ab))))


def _all_points(fixed: np.ndarray, nose, left_eye, right_eye) -> np.ndarray:
    pts = np.zeros((133, 2))
    pts[3:] = fixed
    pts[0], pts[1], pts[2] = nose, left_eye, right_eye
    return pts


def _openpose_points(pts: np.ndarray) -> np.ndarray:
    out = np.zeros((18, 2))
    for j, c in enumerate(OPENPOSE_FROM_COCO):
        out[j] = (pts[5] + pts[6]) / 2 if c < 0 else pts[c]
    return out


def _clearance(pts: np.ndarray) -> float:
    """Distance from the nose to everything drawn after (or across) the nose joint."""
    nose = pts[0]
    op = _openpose_points(pts)
    d = [float(np.hypot(*(pts[k] - nose))) for k in range(1, 133)]
    d += [_segment_distance(nose, op[a], op[b]) for a, b in OPENPOSE_LIMBS if 0 not in (a, b)]
    for base in (LEFT_HAND, RIGHT_HAND):
        d += [_segment_distance(nose, pts[base + a], pts[base + b]) for a, b in HAND_EDGES]
    return min(d)


class Scene:
    """A frame with planted nose/eye markers where the nose joint is clear of every other mark."""

    def __init__(self):
        box = frame_box()
        self.box = box
        self.fixed = oracles.expected_fixed_points(tuple(box), POSE_HW)  # keypoints 3..132
        best = None
        for y in np.arange(box[1] + 20, box[3] - 20, 8.0):
            for x in np.arange(box[0] + 30, box[2] - 30, 8.0):
                nose = (x, y)
                eyes = ((x + 22.0, y - 16.0), (x - 22.0, y - 16.0))
                c = _clearance(_all_points(self.fixed, nose, *eyes))
                if best is None or c > best[0]:
                    best = (c, nose, eyes)
        self.clearance, self.nose, (self.left_eye, self.right_eye) = best
        self.points = _all_points(self.fixed, self.nose, self.left_eye, self.right_eye)
        image = np.zeros((*FRAME_HW, 3), np.uint8)
        oracles.plant_markers(image, [self.nose, self.left_eye, self.right_eye], radius=6.0)
        self.image = image

    def marker_tolerance(self) -> float:
        """Half a SimCC bin in frame pixels plus the warp's interpolation error (DESIGN.md)."""
        (_, _), (sw, _) = oracles.reference_center_scale(tuple(self.box), POSE_HW)
        crop_px = sw / POSE_HW[1]
        return 0.25 * crop_px + 0.5 * crop_px + 0.5


def output_pixel(x: float, y: float, canvas_wh, out_wh) -> tuple[int, int]:
    """Where a canvas point lands in the output image (pixel centres at integers)."""
    ox = (x + 0.5) * out_wh[0] / canvas_wh[0] - 0.5
    oy = (y + 0.5) * out_wh[1] / canvas_wh[1] - 0.5
    return int(np.floor(ox + 0.5)), int(np.floor(oy + 0.5))
