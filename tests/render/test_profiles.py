"""Render profiles measured on the pictures, against the rules written out from PROFILES.md.

Expected widths below are PROFILES.md's rules in output pixels, computed here, not read from
the code: a profile that draws on another canvas and resizes has its widths scaled by the
output short side / the drawing short side.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from dwpose_core.render.profiles import PROFILES
from dwpose_core.render.draw import draw_pose
from dwpose_core.types import FramePose, Person

CANVAS = (512, 768)
SIZES = [(512, 768), (768, 1152), (1024, 1536)]


def expected_half_width(profile: str, w: int, h: int) -> float:
    short = min(w, h)
    return {
        "controlnet": max(1, math.floor(4 * short / 512 + 0.5)),  # our documented rule: 4 at 512, scaled
        "vace": 4 * short / 1024,  # w4 at short side 1024, then resized to the frame
        "wan_animate": max(int(short / 200) - 1, 1),
        "unianimate": 4,
        "steadydancer": 4 / 2,  # w4 drawn at 2x, then downsampled
        "mimicmotion": 4 * short / 2160,  # w4 on a canvas with short side 2160, then downscaled
        "moore": 4 * short / 512,  # w4 at short side 512, then resized
    }[profile]


RB_SWAP = {"controlnet": False, "vace": True, "wan_animate": False, "unianimate": True, "steadydancer": True,
           "mimicmotion": True, "moore": False}
HAS = {  # profile: (hands, face, toes)
    "controlnet": (True, True, False), "vace": (False, True, False), "wan_animate": (True, False, True),
    "unianimate": (True, False, True), "steadydancer": (True, False, False), "mimicmotion": (True, True, False),
    "moore": (True, True, False),
}


def person(points: dict, score: float = 1.0) -> Person:
    kp = np.zeros((133, 2), np.float32)
    sc = np.zeros(133, np.float32)
    for i, xy in points.items():
        kp[i] = xy
        sc[i] = score
    return Person(kp, sc, [0, 0, 10, 10], 0.9)


def to_out(xy, size):
    return ((xy[0] + 0.5) * size[0] / CANVAS[0] - 0.5, (xy[1] + 0.5) * size[1] / CANVAS[1] - 0.5)


def extent(values: np.ndarray) -> int:
    """Pixels of a 1-D intensity profile at or above half its maximum."""
    return int((values >= values.max() / 2).sum()) if values.max() > 0 else 0


def test_profile_names():
    assert PROFILES == ("controlnet", "vace", "wan_animate", "unianimate", "steadydancer", "mimicmotion", "moore")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("profile", PROFILES)
def test_limb_half_width_follows_the_profile_rule(profile, size):
    # Only the right shoulder (COCO 6) and right elbow (COCO 8): one horizontal limb.
    frame = FramePose(*CANVAS, [person({6: (100.0, 384.0), 8: (400.0, 384.0)})])
    img = draw_pose(frame, size=size, profile=profile).max(axis=2).astype(float)
    x, _ = to_out((250.0, 384.0), size)
    column = img[:, int(round(x))]
    measured = (extent(column) - 1) / 2
    assert abs(measured - expected_half_width(profile, *size)) <= 1.0


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("profile", PROFILES)
def test_joint_radius_follows_the_profile_rule(profile, size):
    frame = FramePose(*CANVAS, [person({0: (256.0, 300.0)})])  # the nose alone: one disc
    img = draw_pose(frame, size=size, profile=profile).max(axis=2).astype(float)
    _, y = to_out((256.0, 300.0), size)
    row = img[int(round(y))]
    measured = (extent(row) - 1) / 2
    assert abs(measured - expected_half_width(profile, *size)) <= 1.0  # r = w in every profile's rule


def full_person() -> Person:
    pts = {0: (256, 120), 1: (270, 108), 2: (242, 108), 3: (290, 118), 4: (222, 118), 5: (330, 200),
           6: (180, 200), 7: (380, 300), 8: (130, 300), 9: (420, 380), 10: (90, 380), 11: (300, 420),
           12: (212, 420), 13: (310, 560), 14: (200, 560), 15: (320, 680), 16: (190, 680),
           17: (360, 720), 18: (350, 740), 19: (320, 700), 20: (150, 720), 21: (160, 740), 22: (190, 700)}
    pts.update({23 + k: (200.0 + 2 * k, 60.0) for k in range(68)})  # face: a row above the head
    pts.update({91 + k: (470.0, 420.0 + 12 * k) for k in range(21)})  # left hand: a column at the right
    pts.update({112 + k: (40.0, 420.0 + 12 * k) for k in range(21)})
    return person({k: (float(x), float(y)) for k, (x, y) in pts.items()})


def window(img, xy, size, r=2) -> np.ndarray:
    x, y = (int(round(v)) for v in to_out(xy, size))
    return img[y - r:y + r + 1, x - r:x + r + 1].reshape(-1, 3).astype(float)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("profile", PROFILES)
def test_parts_present_and_absent(profile, size):
    img = draw_pose(FramePose(*CANVAS, [full_person()]), size=size, profile=profile)
    hands, face, toes = HAS[profile]
    assert (window(img, (470.0, 420.0 + 12 * 10), size).max() > 0) == hands
    assert (window(img, (200.0 + 2 * 40, 60.0), size).max() > 0) == face
    left_toe = (355.0, 730.0)  # mean of the left big and small toe
    assert (window(img, left_toe, size).max() > 0) == toes
    assert window(img, (256.0, 120.0), size).max() > 0  # the body is always there


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("profile", PROFILES)
def test_colour_order_neck_to_right_shoulder(profile, size):
    # The neck -> right shoulder limb is colour 0, (255, 0, 0) x 0.6: red, or blue after an RB-swap.
    img = draw_pose(FramePose(*CANVAS, [full_person()]), size=size, profile=profile)
    neck = (255.0, 200.0)
    mid = ((neck[0] + 180.0) / 2, 200.0)
    px = window(img, mid, size, r=1).sum(axis=0)
    red, blue = px[0], px[2]
    assert (blue > 3 * red) if RB_SWAP[profile] else (red > 3 * blue)
    if profile in ("controlnet", "wan_animate", "unianimate"):  # drawn at the output size: exact colour
        x, y = (int(round(v)) for v in to_out(mid, size))
        want = (0, 0, 153) if RB_SWAP[profile] else (153, 0, 0)
        assert tuple(int(v) for v in img[y, x]) == want


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("profile, left, right", [
    # ankle -> toe limbs at 0.6 x their colour; unianimate's picture is RB-swapped.
    ("wan_animate", (153, 0, 51), (120, 120, 0)),
    ("unianimate", (51, 0, 153), (153, 153, 102)),
])
def test_toe_limbs(profile, left, right, size):
    img = draw_pose(FramePose(*CANVAS, [full_person()]), size=size, profile=profile)
    for ankle, toe, colour in (((320.0, 680.0), (355.0, 730.0), left), ((190.0, 680.0), (155.0, 730.0), right)):
        mid = ((ankle[0] + toe[0]) / 2, (ankle[1] + toe[1]) / 2)
        x, y = (int(round(v)) for v in to_out(mid, size))
        assert tuple(int(v) for v in img[y, x]) == colour


def test_toggles_apply_on_top_of_a_profile():
    frame = FramePose(*CANVAS, [full_person()])
    size = SIZES[0]
    no_toes = draw_pose(frame, size=size, profile="wan_animate", feet=False)
    assert window(no_toes, (355.0, 730.0), size).max() == 0
    no_hands = draw_pose(frame, size=size, profile="wan_animate", hands=False)
    assert window(no_hands, (470.0, 540.0), size).max() == 0
    # A toggle never adds what the profile leaves out.
    assert window(draw_pose(frame, size=size, profile="vace", hands=True), (470.0, 540.0), size).max() == 0


def test_wan_animate_threshold_is_0_5():
    pts = {6: (100.0, 384.0), 8: (400.0, 384.0)}
    assert draw_pose(FramePose(*CANVAS, [person(pts, 0.45)]), profile="controlnet").any()
    assert not draw_pose(FramePose(*CANVAS, [person(pts, 0.45)]), profile="wan_animate").any()
    assert not draw_pose(FramePose(*CANVAS, [person(pts, 0.34)]), profile="steadydancer").any()


def test_moore_draws_the_best_scoring_person_only():
    weak = person({0: (100.0, 100.0)}, 0.5)
    strong = person({0: (400.0, 100.0)}, 0.9)
    img = draw_pose(FramePose(*CANVAS, [weak, strong]), profile="moore")
    assert window(img, (400.0, 100.0), CANVAS).max() > 0 and window(img, (100.0, 100.0), CANVAS).max() == 0


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(ValueError, match="controlnet"):
        draw_pose(FramePose(*CANVAS, []), profile="nope")
