"""The README's comparison pictures: labelled panels side by side, and the command line both picture
scripts share (``--out``, ``--size WxH``). Used by tools/draw_profiles.py and tools/draw_refinement.py."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dwpose_core.files.outputs import write_image  # noqa: E402 - atomic, as every output


def label(panel: np.ndarray, title: str) -> np.ndarray:
    cv2.putText(panel, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def side_by_side(panels: Sequence[np.ndarray]) -> np.ndarray:
    """Panels of one height, separated by a 2-pixel grey bar."""
    bar = np.full((panels[0].shape[0], 2, 3), 64, np.uint8)
    out = [panels[0]]
    for panel in panels[1:]:
        out += [bar, panel]
    return np.concatenate(out, axis=1)


def main(sheet: Callable[[int, int], np.ndarray], description: str, default_out: Path, default_size: str,
         argv=None) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--size", default=default_size, help="one panel, WxH")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_image(args.out, sheet(width, height))
    print(f"wrote {args.out}")
    return 0
