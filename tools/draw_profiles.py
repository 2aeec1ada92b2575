"""Draw one synthetic pose with every render profile, side by side, into a PNG.

    python tools/draw_profiles.py [--out docs/profiles.png] [--size 256x384]

The pose is made here (a standing figure with hands, face and feet, all scores 0.9), so the
picture needs no model. Each panel is labelled with its profile's name.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from dwpose_core.render.profiles import PROFILES  # noqa: E402
from dwpose_core.render.draw import draw_pose  # noqa: E402
from dwpose_core.types import FramePose, Person  # noqa: E402
import picture_sheet  # noqa: E402
from picture_sheet import label, side_by_side  # noqa: E402

# COCO body points of a standing figure on a 512 x 768 canvas, arms out, feet apart.
BODY = {0: (256, 120), 1: (272, 104), 2: (240, 104), 3: (292, 116), 4: (220, 116), 5: (326, 190),
        6: (186, 190), 7: (372, 280), 8: (140, 280), 9: (400, 370), 10: (112, 370), 11: (300, 400),
        12: (212, 400), 13: (316, 530), 14: (196, 530), 15: (326, 660), 16: (186, 660)}
FEET = {17: (352, 690), 18: (340, 694), 19: (318, 676), 20: (160, 690), 21: (172, 694), 22: (194, 676)}


def _hand(wrist: tuple, direction: float) -> np.ndarray:
    """21 points fanning out from the wrist: 5 fingers of 4 points."""
    pts = [wrist]
    for finger in range(5):
        angle = np.radians(60 + finger * 15) * direction
        for k in range(1, 5):
            pts.append((wrist[0] + direction * 9 * k * np.sin(angle), wrist[1] + 9 * k * np.cos(angle)))
    return np.array(pts)


def synthetic_person() -> Person:
    kp = np.zeros((133, 2), np.float32)
    for i, xy in {**BODY, **FEET}.items():
        kp[i] = xy
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    kp[23:91] = np.stack([256 + 26 * np.cos(t), 128 + 32 * np.sin(t)], axis=1)  # the face as an oval
    kp[91:112] = _hand(BODY[9], 1.0)
    kp[112:133] = _hand(BODY[10], -1.0)
    return Person(kp, np.full(133, 0.9, np.float32), [100, 80, 420, 700], 0.9)


def sheet(width: int, height: int) -> np.ndarray:
    import cv2

    frame = FramePose(512, 768, [synthetic_person()])
    return side_by_side([label(draw_pose(frame, size=(width, height), profile=name).copy(), name)
                         for name in PROFILES])


def main(argv=None) -> int:
    return picture_sheet.main(sheet, __doc__.splitlines()[0], ROOT / "docs" / "profiles.png", "256x384", argv)


if __name__ == "__main__":
    sys.exit(main())
