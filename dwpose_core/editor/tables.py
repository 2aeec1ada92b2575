"""Data the pose editor needs besides the skeleton tables: the left/right mirror map of the 133
COCO-WholeBody points, a default standing pose, and :func:`editor_tables` — every table the
browser editor draws with, as one JSON-safe dict built from :mod:`dwpose_core.skeleton`, so
the JavaScript carries no copy of a table.
"""
from __future__ import annotations

import math

from .. import skeleton as sk

__all__ = ["MIRROR", "default_pose", "editor_tables"]


def _face_mirror() -> list[int]:
    """iBUG 300-W 68-landmark left/right partner of each landmark (0-based, face-local)."""
    pairs = [(i, 16 - i) for i in range(8)]  # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]  # eyebrows
    pairs += [(31, 35), (32, 34)]  # nose bottom
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lip
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lip
    partner = list(range(68))
    for a, b in pairs:
        partner[a], partner[b] = b, a
    return partner


def _mirror() -> tuple[int, ...]:
    partner = list(range(sk.NUM_KEYPOINTS))
    body = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]
    feet = [(17, 20), (18, 21), (19, 22)]
    for a, b in body + feet:
        partner[a], partner[b] = b, a
    for i, j in enumerate(_face_mirror()):
        partner[sk.FACE.start + i] = sk.FACE.start + j
    for i in range(len(sk.LEFT_HAND)):
        partner[sk.LEFT_HAND.start + i] = sk.RIGHT_HAND.start + i
        partner[sk.RIGHT_HAND.start + i] = sk.LEFT_HAND.start + i
    return tuple(partner)


# MIRROR[j] is the point that takes point j's place when left and right are exchanged.
MIRROR = _mirror()


def _default_face() -> list[tuple[float, float]]:
    """68 landmarks of a front-facing face around (0, -0.40), person height 1."""
    cx, cy = 0.0, -0.40
    pts = []
    for i in range(17):  # jaw: subject's right ear (image left), chin, left ear
        a = math.pi * i / 16
        pts.append((cx - 0.05 * math.cos(a), cy - 0.03 + 0.065 * math.sin(a)))
    for i in range(5):  # right brow, outer to inner
        pts.append((cx - 0.042 + 0.008 * i, cy - 0.047 - 0.004 * math.sin(math.pi * i / 4)))
    for i in range(5):  # left brow, inner to outer
        pts.append((cx + 0.01 + 0.008 * i, cy - 0.047 - 0.004 * math.sin(math.pi * (4 - i) / 4)))
    pts += [(cx, cy - 0.035 + 0.009 * i) for i in range(4)]  # nose bridge
    pts += [(cx - 0.014 + 0.007 * i, cy + 0.004 - 0.002 * (i in (1, 2, 3))) for i in range(5)]  # nose bottom
    for side in (-1, 1):  # right eye 36-41, then left eye 42-47 (both listed from image left)
        ex = cx + side * 0.025
        ring = [(-0.012, 0), (-0.005, -0.004), (0.005, -0.004), (0.012, 0), (0.005, 0.004), (-0.005, 0.004)]
        pts += [(ex + dx, cy - 0.023 + dy) for dx, dy in ring]
    my = cy + 0.02
    outer = [(-0.022, 0), (-0.014, -0.006), (-0.005, -0.008), (0, -0.007), (0.005, -0.008), (0.014, -0.006),
             (0.022, 0), (0.014, 0.008), (0.005, 0.011), (0, 0.011), (-0.005, 0.011), (-0.014, 0.008)]
    inner = [(-0.017, 0), (-0.006, -0.003), (0, -0.003), (0.006, -0.003), (0.017, 0), (0.006, 0.004),
             (0, 0.004), (-0.006, 0.004)]
    pts += [(cx + dx, my + dy) for dx, dy in outer + inner]
    return pts


def _default_hand(wrist: tuple[float, float], side: int) -> list[tuple[float, float]]:
    """21 hand points hanging down from the wrist; side +1 = the subject's left (image right)."""
    pts = [wrist]
    angles = (-40, -12, 0, 12, 24)  # degrees from straight down, thumb first (towards the body)
    lengths = ((0.018, 0.015, 0.012, 0.01), (0.035, 0.016, 0.011, 0.009), (0.036, 0.018, 0.012, 0.009),
               (0.034, 0.016, 0.011, 0.009), (0.03, 0.012, 0.009, 0.008))
    for angle, segs in zip(angles, lengths):
        a = math.radians(angle)
        dx, dy = -side * math.sin(a), math.cos(a)
        x, y = wrist
        for seg in segs:
            x, y = x + dx * seg, y + dy * seg
            pts.append((x, y))
    return pts


def default_pose() -> list[tuple[float, float]]:
    """133 points of a standing, front-facing person of height 1 centred at (0, 0) (y down).

    The editor scales and places it where the user clicks to add a person.
    """
    body = [(0, -0.4), (0.025, -0.423), (-0.025, -0.423), (0.055, -0.41), (-0.055, -0.41),
            (0.11, -0.28), (-0.11, -0.28), (0.16, -0.12), (-0.16, -0.12), (0.18, 0.02), (-0.18, 0.02),
            (0.07, 0.04), (-0.07, 0.04), (0.08, 0.24), (-0.08, 0.24), (0.085, 0.44), (-0.085, 0.44)]
    feet = [(0.1, 0.5), (0.13, 0.49), (0.08, 0.47), (-0.1, 0.5), (-0.13, 0.49), (-0.08, 0.47)]
    pts = [(float(x), float(y)) for x, y in body + feet] + _default_face()
    pts += _default_hand(body[9], 1) + _default_hand(body[10], -1)
    assert len(pts) == sk.NUM_KEYPOINTS
    return [(round(x, 4), round(y, 4)) for x, y in pts]


def _names() -> list[str]:
    names = list(sk.COCO_BODY_NAMES) + list(sk.FOOT_NAMES)
    names += [f"face {i}" for i in range(len(sk.FACE))]
    names += [f"left hand {i}" for i in range(len(sk.LEFT_HAND))]
    names += [f"right hand {i}" for i in range(len(sk.RIGHT_HAND))]
    return names


def editor_tables() -> dict:
    """Everything the browser editor draws with, from the skeleton tables (JSON-safe)."""
    return {
        "num_keypoints": sk.NUM_KEYPOINTS,
        "threshold": sk.SCORE_THRESHOLD,
        "parts": {name: [r.start, r.stop] for name, r in sk.PARTS.items()},
        "names": _names(),
        "openpose_from_coco": list(sk.OPENPOSE_FROM_COCO),
        "shoulders": [sk.LEFT_SHOULDER_COCO, sk.RIGHT_SHOULDER_COCO],
        "limbs": [list(p) for p in sk.OPENPOSE_LIMBS],
        "colors": [list(c) for c in sk.OPENPOSE_COLORS],
        "limb_shade": sk.LIMB_SHADE,
        "foot_edges": [list(p) for p in sk.FOOT_EDGES],
        "foot_edge_colors": [list(c) for c in sk.FOOT_EDGE_COLORS],
        "hand_edges": [list(p) for p in sk.HAND_EDGES],
        "hand_edge_colors": [list(c) for c in sk.HAND_EDGE_COLORS],
        "hand_point_color": list(sk.HAND_POINT_COLOR),
        "face_point_color": list(sk.FACE_POINT_COLOR),
        "widths": {"reference_short_side": sk.REFERENCE_SHORT_SIDE, "stick": sk.STICK_WIDTH,
                   "joint_radius": sk.JOINT_RADIUS, "hand_line": sk.HAND_LINE_WIDTH,
                   "hand_point_radius": sk.HAND_POINT_RADIUS, "face_radius": sk.FACE_POINT_RADIUS},
        "mirror": list(MIRROR),
        "default_pose": [list(p) for p in default_pose()],
    }
