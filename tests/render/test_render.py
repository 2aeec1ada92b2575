"""Rendering checked against what the OpenPose conventions imply, not against snapshots.

Ground truth is written out here from the published conventions (REFERENCE.md): colours,
limb pairs, the 0.6 limb shade, HSV hand edges, white face points, the line-width rule.
"""
from __future__ import annotations

import colorsys
import json
import math

import numpy as np
import pytest

from dwpose_core.formats.pose_json import from_pose_keypoint, to_pose_keypoint
from dwpose_core.render.draw import draw_pose, draw_poses, line_widths, output_size
from dwpose_core.types import FramePose, Person

# OpenPose colours (RGB), index 0-17, and limbs as OpenPose-18 pairs, from the convention.
COLORS = [(255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
          (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
          (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85)]
LIMBS = [(1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
         (1, 0), (0, 14), (14, 16), (0, 15), (15, 17)]
# OpenPose-18 index -> COCO index (neck has none).
COCO_OF = {0: 0, 2: 6, 3: 8, 4: 10, 5: 5, 6: 7, 7: 9, 8: 12, 9: 14, 10: 16, 11: 11, 12: 13, 13: 15, 14: 2,
           15: 1, 16: 4, 17: 3}
LEFT_HAND0, RIGHT_HAND0, FACE0 = 91, 112, 23
BLACK = (0, 0, 0)


def person(points: dict[int, tuple[float, float]], score: float = 0.9) -> Person:
    kp = np.zeros((133, 2), np.float32)
    sc = np.zeros(133, np.float32)
    for i, xy in points.items():
        kp[i] = xy
        sc[i] = score
    return Person(kp, sc, [0, 0, 10, 10], 0.8)


def px(img: np.ndarray, x: float, y: float) -> tuple:
    return tuple(int(v) for v in img[int(math.floor(y + 0.5)), int(math.floor(x + 0.5))])


def shade(color) -> tuple:
    return tuple(int(math.floor(c * 0.6 + 0.5)) for c in color)


def body_points_for_limb(a: int, b: int) -> tuple[dict, dict]:
    """COCO points that make exactly OpenPose points a and b present, and their OpenPose positions.

    The limb runs horizontally from (100, 256) to (400, 256); the neck is made from shoulders
    placed on a vertical line far from that limb.
    """
    ends = {a: (100.0, 256.0), b: (400.0, 256.0)}
    coco, op = {}, dict(ends)
    for j, xy in ends.items():
        if j == 1:  # neck: shoulders straddle it vertically (COCO 5 left, 6 right)
            if b in (2, 5) or a in (2, 5):  # neck-shoulder limb: shoulders on the limb's line
                other = 5 if 2 in (a, b) else 2
                coco[COCO_OF[other]] = (2 * xy[0] - ends[b if j == a else a][0], xy[1])
            else:
                coco[5], coco[6] = (xy[0], xy[1] - 100), (xy[0], xy[1] + 100)
        else:
            coco[COCO_OF[j]] = xy
    return coco, op


@pytest.mark.parametrize("limb", range(len(LIMBS)))
def test_limb_midpoint_is_0_6_times_its_colour(limb):
    a, b = LIMBS[limb]
    coco, op = body_points_for_limb(a, b)
    img = draw_pose(FramePose(512, 512, [person(coco)]), hands=False, face=False)
    mid = ((op[a][0] + op[b][0]) / 2, (op[a][1] + op[b][1]) / 2)
    assert px(img, *mid) == shade(COLORS[limb])


def spread_body() -> dict:
    """All 17 COCO body points on a coarse grid, far apart; neck lands between the shoulders."""
    layout = {0: (256, 60), 1: (286, 40), 2: (226, 40), 3: (316, 70), 4: (196, 70), 5: (336, 140),
              6: (176, 140), 7: (396, 220), 8: (116, 220), 9: (446, 300), 10: (66, 300), 11: (316, 300),
              12: (196, 300), 13: (336, 390), 14: (176, 390), 15: (346, 480), 16: (166, 480)}
    return {k: (float(x), float(y)) for k, (x, y) in layout.items()}


@pytest.mark.parametrize("resolution", [None, 1024, 320])
def test_joint_centres_have_the_full_colour(resolution):
    pts = spread_body()
    img = draw_pose(FramePose(512, 512, [person(pts)]), resolution=resolution)
    s = img.shape[1] / 512
    op = {j: pts[c] for j, c in COCO_OF.items()}
    op[1] = ((pts[5][0] + pts[6][0]) / 2, (pts[5][1] + pts[6][1]) / 2)
    for j, (x, y) in op.items():
        assert px(img, (x + 0.5) * s - 0.5, (y + 0.5) * s - 0.5) == COLORS[j], f"joint {j}"


def test_points_below_threshold_are_not_drawn_and_neck_needs_both_shoulders():
    pts = spread_body()
    p = person(pts)
    p.scores[6] = 0.29  # right shoulder below 0.3: no right shoulder, no neck
    img = draw_pose(FramePose(512, 512, [p]))
    assert px(img, *pts[6]) == BLACK
    neck = ((pts[5][0] + pts[6][0]) / 2, (pts[5][1] + pts[6][1]) / 2)
    assert px(img, *neck) == BLACK
    assert px(img, *pts[5]) == COLORS[5]  # left shoulder still there
    assert px(draw_pose(FramePose(512, 512, [p]), threshold=0.2), *neck) == COLORS[1]


def hand_layout(wrist=(256.0, 256.0)) -> list[tuple[float, float]]:
    """21 points: five fingers as rays from the wrist, 4 points 40 px apart along each."""
    directions = [(1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0)]
    pts = [wrist]
    for dx, dy in directions:
        for k in range(1, 5):
            pts.append((wrist[0] + 40 * k * dx, wrist[1] + 40 * k * dy))
    return pts


def hsv_edge_colour(i: int) -> tuple:
    return tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(i / 20, 1.0, 1.0))


@pytest.mark.parametrize("first", [LEFT_HAND0, RIGHT_HAND0])
def test_hand_edges_follow_hsv_and_points_are_blue(first):
    pts = hand_layout()
    p = person({first + k: xy for k, xy in enumerate(pts)})
    img = draw_pose(FramePose(512, 512, [p]))
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
             (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20)]
    for i, (a, b) in enumerate(edges):
        mid = ((pts[a][0] + pts[b][0]) / 2, (pts[a][1] + pts[b][1]) / 2)
        assert px(img, *mid) == hsv_edge_colour(i), f"edge {i}"
    for k, xy in enumerate(pts):
        assert px(img, *xy) == (0, 0, 255), f"hand point {k}"


def test_face_points_are_white_and_face_toggle_removes_them():
    pts = {FACE0 + k: (40.0 + 7 * k, 100.0 + 20 * (k % 3)) for k in range(68)}
    frame = FramePose(512, 512, [person(pts)])
    img = draw_pose(frame)
    for xy in pts.values():
        assert px(img, *xy) == (255, 255, 255)
    assert not draw_pose(frame, face=False).any()


def feet_person() -> tuple[Person, dict]:
    pts = {15: (300.0, 300.0), 16: (150.0, 300.0),  # left ankle, right ankle
           17: (360.0, 400.0), 18: (300.0, 420.0), 19: (240.0, 380.0),  # left big toe, small toe, heel
           20: (90.0, 400.0), 21: (150.0, 420.0), 22: (210.0, 380.0)}
    return person(pts), pts


def test_feet_are_off_by_default_and_drawn_in_their_colours_when_enabled():
    p, pts = feet_person()
    frame = FramePose(512, 512, [p])
    off = draw_pose(frame)
    for k in range(17, 23):
        assert px(off, *pts[k]) == BLACK
    on = draw_pose(frame, feet=True)
    left, right = (0, 42, 255), (0, 255, 212)  # documented foot colours
    for k, ankle, color in [(17, 15, left), (18, 15, left), (19, 15, left),
                            (20, 16, right), (21, 16, right), (22, 16, right)]:
        assert px(on, *pts[k]) == color
        mid = ((pts[k][0] + pts[ankle][0]) / 2, (pts[k][1] + pts[ankle][1]) / 2)
        assert px(on, *mid) == shade(color)
    # The ankle joints stay full-colour circles on top of their feet (OpenPose 13 / 10).
    assert px(on, *pts[15]) == COLORS[13]
    assert px(on, *pts[16]) == COLORS[10]


@pytest.mark.parametrize("w, h, res, expected", [
    (640, 480, 512, (680, 512)),      # 640 * 512/480 = 682.7 -> 680
    (480, 640, 512, (512, 680)),
    (1000, 1000, 513, (512, 512)),    # short side itself rounds to a multiple of 8
    (1920, 1080, 720, (1280, 720)),
    (333, 777, None, (333, 777)),     # None: the canvas size, unchanged
    (10, 4000, 16, (16, 6400)),
])
def test_output_size_rule(w, h, res, expected):
    assert output_size(w, h, res) == expected
    img = draw_pose(FramePose(w, h, []), resolution=res)
    assert img.shape == (expected[1], expected[0], 3)


def test_output_size_rejects_bad_values():
    with pytest.raises(ValueError, match="resolution"):
        output_size(100, 100, 0)
    with pytest.raises(ValueError, match="width"):
        output_size(0, 100, 512)


def test_frame_without_people_is_black_at_output_size():
    img = draw_pose(FramePose(800, 600, []), resolution=512)
    assert img.shape == (512, 680, 3) and img.dtype == np.uint8 and not img.any()


def test_explicit_size_wins_and_conflicts_with_resolution():
    frame = FramePose(512, 512, [person(spread_body())])
    assert draw_pose(frame, size=(300, 200)).shape == (200, 300, 3)
    with pytest.raises(ValueError, match="not both"):
        draw_pose(frame, size=(300, 200), resolution=512)


def horizontal_limb_thickness(img: np.ndarray, x: int, color) -> int:
    column = img[:, x]
    return int(np.all(column == np.array(color), axis=1).sum())


@pytest.mark.parametrize("xinsir", [False, True])
def test_stick_width_follows_the_documented_rule(xinsir):
    # Right shoulder -> right elbow (OpenPose limb 2 (2,3)) horizontally across a 512 canvas.
    p = person({6: (100.0, 256.0), 8: (400.0, 256.0)})
    frame = FramePose(512, 512, [p])
    measured = {}
    for res in (512, 2048):
        img = draw_pose(frame, resolution=res, xinsir=xinsir)
        s = res / 512
        measured[res] = horizontal_limb_thickness(img, int(250 * s), shade(COLORS[2]))
        if xinsir:
            stick = 4 * (1 if res < 500 else min(2 + res // 1000, 7))
        else:
            stick = max(1, round(4 * s))
        # A filled ellipse of half-width w covers 2w + 1 pixel rows at its middle.
        assert measured[res] == 2 * stick + 1, (res, measured[res])
    if not xinsir:
        assert (measured[2048] - 1) / (measured[512] - 1) == pytest.approx(4.0)


def test_line_widths_at_reference_and_scaled():
    assert tuple(line_widths(512, 768)) == (4, 4, 2, 4, 3)
    assert tuple(line_widths(2048, 4096)) == (16, 16, 8, 16, 12)
    assert tuple(line_widths(64, 64)) == (1, 1, 1, 1, 1)  # never below one pixel
    assert tuple(line_widths(400, 300, xinsir=True)) == (4, 4, 2, 4, 3)
    assert tuple(line_widths(3000, 1000, xinsir=True)) == (20, 4, 2, 4, 3)  # 2 + 3000 // 1000 = 5
    assert line_widths(9000, 9000, xinsir=True).stick == 28  # capped at 7


def test_joint_radius_grows_with_the_output():
    p = person({0: (256.0, 256.0)})  # nose alone: one red joint
    for res, radius in ((512, 4), (2048, 16)):
        img = draw_pose(FramePose(512, 512, [p]), resolution=res)
        row = img[int(np.floor((256.5) * res / 512))]
        assert int(np.all(row == COLORS[0], axis=1).sum()) == 2 * radius + 1


def test_drawn_directly_without_antialiasing_only_palette_colours():
    pts = spread_body()
    pts.update({LEFT_HAND0 + k: (x / 4 + 300, y / 4 + 250) for k, (x, y) in enumerate(hand_layout((0.0, 0.0)))})
    pts.update({FACE0 + k: (200.0 + 3 * k, 30.0) for k in range(68)})
    feet, fpts = feet_person()
    pts.update({k: v for k, v in fpts.items() if k >= 17})
    img = draw_pose(FramePose(512, 512, [person(pts)]), resolution=1536, feet=True)
    palette = {BLACK, (255, 255, 255), (0, 0, 255)}
    palette |= {tuple(c) for c in COLORS} | {shade(c) for c in COLORS}
    palette |= {hsv_edge_colour(i) for i in range(20)}
    palette |= {(0, 42, 255), (0, 255, 212), shade((0, 42, 255)), shade((0, 255, 212))}
    packed = np.unique((img[..., 0].astype(np.int64) << 16) | (img[..., 1].astype(np.int64) << 8) | img[..., 2])
    found = {(int(v) >> 16, (int(v) >> 8) & 255, int(v) & 255) for v in packed}
    assert found <= palette, found - palette


def test_draws_what_formats_reads_from_pose_keypoint_like_from_framepose():
    pts = spread_body()
    pts.update({RIGHT_HAND0 + k: (x / 4 + 100, y / 4 + 400) for k, (x, y) in enumerate(hand_layout((0.0, 0.0)))})
    pts.update({FACE0 + k: (200.0 + 3 * k, 30.0) for k in range(68)})
    frame = FramePose(640, 480, [person(pts)])
    expected = draw_pose(frame, resolution=512)
    lossless = to_pose_keypoint([frame])[0]
    assert np.array_equal(draw_pose(from_pose_keypoint(lossless)[0], resolution=512), expected)
    assert np.array_equal(draw_pose(from_pose_keypoint(json.dumps(lossless))[0], resolution=512), expected)
    # The plain OpenPose arrays alone (c = 1.0 for present points) give the same picture.
    plain = {**lossless, "people": [{k: v for k, v in p.items() if k.endswith("keypoints_2d")
                                     and not k.startswith("wholebody")} for p in lossless["people"]]}
    assert np.array_equal(draw_pose(from_pose_keypoint(plain)[0], resolution=512), expected)


def test_the_renderer_takes_framepose_only():
    frame = FramePose(512, 512, [person(spread_body())])
    data = to_pose_keypoint([frame])
    for value in (data[0], json.dumps(data[0])):
        with pytest.raises(TypeError, match="from_pose_keypoint"):
            draw_pose(value)
    with pytest.raises(TypeError):
        draw_poses(json.dumps(data))
    images = draw_poses(from_pose_keypoint(json.dumps(data + [{"people": [], "canvas_width": 512,
                                                                "canvas_height": 512}])), resolution=256)
    assert len(images) == 2 and images[0].any() and not images[1].any()


def test_parts_carried_by_the_frame_and_person_switch_parts_off():
    pts = spread_body()
    pts.update({LEFT_HAND0 + k: xy for k, xy in enumerate(hand_layout((256.0, 256.0)))})
    p = person(pts)
    full = draw_pose(FramePose(512, 512, [p]))
    assert px(full, 256, 256) == (0, 0, 255)
    p.parts = ("body", "face", "feet")
    assert px(draw_pose(FramePose(512, 512, [p])), 256, 256) == BLACK
    q = person(pts)
    assert px(draw_pose(FramePose(512, 512, [q], parts=("body",))), 256, 256) == BLACK
    # A toggle cannot switch a part back on.
    assert px(draw_pose(FramePose(512, 512, [p]), hands=True), 256, 256) == BLACK
    # Read from JSON: parts travel in the per-person field.
    back = from_pose_keypoint(to_pose_keypoint([FramePose(512, 512, [q])], hands=False))[0]
    assert back.people[0].parts == ("body", "face", "feet")
    assert np.array_equal(draw_pose(back), draw_pose(FramePose(512, 512, [q]), hands=False))


def test_part_toggles():
    pts = spread_body()
    pts.update({LEFT_HAND0 + k: xy for k, xy in enumerate(hand_layout((256.0, 256.0)))})
    frame = FramePose(512, 512, [person(pts)])
    no_body = draw_pose(frame, body=False)
    assert px(no_body, *pts[0]) == BLACK and px(no_body, 256, 256) == (0, 0, 255)
    no_hands = draw_pose(frame, hands=False)
    assert px(no_hands, 256, 256) == BLACK and px(no_hands, *pts[0]) == COLORS[0]


def test_drawing_commands_are_what_the_picture_holds():
    """The node preview's commands (pose_commands) are the renderer's: every dot centre is painted."""
    from dwpose_core.render.draw import pose_commands

    pts = spread_body()
    pts.update({LEFT_HAND0 + k: xy for k, xy in enumerate(hand_layout((256.0, 256.0)))})
    frame = FramePose(512, 512, [person(pts)])
    drawing = pose_commands(frame, size=(512, 512))
    img = draw_pose(frame)
    dots = [s for s in drawing.strokes if s.kind == "dot"]
    assert sum(len(s.a) for s in dots) == 18 + 21
    assert [s.kind for s in drawing.strokes] == ["limb", "dot", "line", "dot"]  # body, hand, in draw order
    hand_dots = drawing.strokes[-1]  # drawn last: nothing covers them
    for (x, y), c in zip(hand_dots.a.tolist(), hand_dots.colors.tolist()):
        assert px(img, x, y) == tuple(c) == (0, 0, 255)
    limbs = drawing.strokes[0]
    assert len(limbs.a) == 17 and {tuple(c) for c in limbs.colors.tolist()} == {shade(c) for c in COLORS[:17]}


def _summary_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "nodes" / "summary.py"
    spec = importlib.util.spec_from_file_location("dwpose_summary_for_render_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_node_summary_previews_are_the_renderer_commands_and_counts_follow_parts():
    from dwpose_core.render.draw import pose_commands

    pts = spread_body()
    pts.update({LEFT_HAND0 + k: xy for k, xy in enumerate(hand_layout((256.0, 256.0)))})
    p = person(pts)
    p.parts = ("body", "face", "feet")  # hands switched off upstream
    frame = FramePose(512, 512, [p])
    summary = _summary_module().summarise([frame], profile="unianimate")
    (preview,) = summary["previews"]
    drawing = pose_commands(frame, size=(512, 512), profile="unianimate", feet=True)
    n_dots = sum(len(s.a) for s in drawing.strokes if s.kind == "dot")
    assert len(preview["points"]) == n_dots == 18  # no hand points: the person's parts say so
    assert preview["lines"][0][4] == "#%02x%02x%02x" % tuple(drawing.strokes[0].colors[0])
    assert summary["counts"] == [[1, 1, 0, 0, 0]]  # body shown; hands off; no face or feet points
