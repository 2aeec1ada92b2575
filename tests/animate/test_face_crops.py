"""Face crops: Wan 2.2 Animate's box rule (PROFILES.md), made square, smoothed, with fallbacks.

Expected boxes are computed here from the rule's text, not from the code under test."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dwpose_core.animate.face_crops import crop_boxes, face_boxes, face_crops, wan_face_boxes
from dwpose_core.types import FramePose, Person

W, H = 640, 480


def face_person(x1, y1, x2, y2, track_id=None, score=0.9, n=68):
    """A person whose 68 landmarks span exactly (x1, y1)-(x2, y2)."""
    kp = np.zeros((133, 2))
    sc = np.zeros(133)
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(x1, x2, 68), rng.uniform(y1, y2, 68)])
    pts[0], pts[1] = (x1, y1), (x2, y2)
    kp[23:91] = pts
    sc[23:23 + n] = score
    return Person(kp, sc, [x1, y1, x2, y2], 0.9, track_id)


def expected_box(x1, y1, x2, y2, scale=1.3, width=W, height=H):
    """The rule of the module text, written out."""
    w, h = x2 - x1, y2 - y1
    new_w = math.sqrt(w * h * scale * w / h)
    new_h = math.sqrt(w * h * scale * h / w)
    bx1, bx2 = x1 - (new_w - w) / 2, x2 + (new_w - w) / 2
    by1, by2 = y1 - 3 * (new_h - h) / 4, y2 + (new_h - h) / 4
    side = min(round(max(bx2 - bx1, by2 - by1)), min(width, height))
    cx, cy = (bx1 + bx2) / 2, (by1 + by2) / 2
    left = min(max(round(cx - side / 2), 0), width - side)
    top = min(max(round(cy - side / 2), 0), height - side)
    return np.array([left, top, left + side, top + side], float)


def still_clip(n, box=(200, 150, 260, 230), **kw):
    return [FramePose(W, H, [face_person(*box, **kw)]) for _ in range(n)]


def test_wan_rule_grows_area_by_1_3_with_three_quarters_of_extra_height_above():
    pts = np.array([[[100, 200], [140, 250]] + [[120, 225]] * 66], float)
    boxes, found = wan_face_boxes(pts, np.ones((1, 68), bool))
    x1, y1, x2, y2 = boxes[0]
    assert found[0]
    assert (x2 - x1) * (y2 - y1) == pytest.approx(1.3 * 40 * 50)
    assert (x2 - x1) / (y2 - y1) == pytest.approx(40 / 50)
    assert 100 - x1 == pytest.approx(x2 - 140)  # width split equally
    extra = (y2 - y1) - 50
    assert 200 - y1 == pytest.approx(0.75 * extra) and y2 - 250 == pytest.approx(0.25 * extra)


def test_box_is_the_square_of_the_wan_box():
    tracks = face_boxes(still_clip(1), smoothing=0)
    assert len(tracks) == 1
    assert np.array_equal(tracks[0].boxes[0], expected_box(200, 150, 260, 230))
    x1, y1, x2, y2 = tracks[0].boxes[0]
    assert x2 - x1 == y2 - y1


def test_crops_have_the_chosen_size_and_show_the_box():
    images = np.zeros((3, H, W, 3), np.uint8)
    box = expected_box(200, 150, 260, 230).astype(int)
    images[:, box[1]:box[3], box[0]:box[2]] = (10, 200, 30)  # exactly the box is green
    tracks = face_crops(images, still_clip(3), size=128, smoothing=0).tracks
    crops = tracks[0].crops
    assert crops.shape == (3, 128, 128, 3) and crops.dtype == np.uint8
    assert np.all(crops == np.array([10, 200, 30], np.uint8))


def test_default_size_is_512():
    result = face_crops(np.zeros((1, H, W, 3), np.uint8), still_clip(1))
    assert result.crops.shape == (1, 512, 512, 3)


def test_a_face_at_the_border_keeps_a_square_inside_the_image():
    tracks = face_boxes(still_clip(1, box=(2, 5, 60, 90)), smoothing=0)
    x1, y1, x2, y2 = tracks[0].boxes[0]
    assert x1 == 0 and y1 == 0 and x2 - x1 == y2 - y1
    assert np.array_equal(tracks[0].boxes[0], expected_box(2, 5, 60, 90))


def test_a_face_larger_than_the_image_is_clipped_to_its_short_side():
    tracks = face_boxes(still_clip(1, box=(10, 10, 630, 470)), smoothing=0)
    x1, y1, x2, y2 = tracks[0].boxes[0]
    assert x2 - x1 == y2 - y1 == H and 0 <= x1 and x2 <= W and y1 == 0


def test_boxes_are_smoothed_over_time():
    rng = np.random.default_rng(1)
    frames = []
    for _ in range(60):
        dx, dy = rng.normal(0, 3, 2)
        frames.append(FramePose(W, H, [face_person(200 + dx, 150 + dy, 260 + dx, 230 + dy)]))
    raw = face_boxes(frames, smoothing=0)[0].boxes
    smooth = face_boxes(frames, smoothing=1.0)[0].boxes
    assert smooth[:, 0].std() < 0.5 * raw[:, 0].std()
    assert abs(smooth[:, 0].mean() - expected_box(200, 150, 260, 230)[0]) < 2


def test_frames_without_a_face_take_the_nearest_box():
    frames = still_clip(10)
    moved = still_clip(10, box=(300, 150, 360, 230))
    clip = frames[:4] + [FramePose(W, H, [face_person(0, 0, 1, 1, n=2)]), FramePose(W, H, [])] + moved[:4]
    track = face_boxes(clip, smoothing=0)[0]
    assert track.found.tolist() == [True] * 4 + [False, False] + [True] * 4
    assert np.array_equal(track.boxes[4], expected_box(200, 150, 260, 230))  # nearer the start
    assert np.array_equal(track.boxes[5], expected_box(300, 150, 360, 230))  # nearer the end


def test_a_track_without_any_face_gets_a_centred_box():
    clip = [FramePose(W, H, [face_person(0, 0, 1, 1, n=0)]) for _ in range(3)]
    images = np.full((3, H, W, 3), 7, np.uint8)
    track = face_crops(images, clip, size=64).tracks[0]
    assert not track.found.any()
    side = min(W, H) // 2
    assert np.array_equal(track.boxes[0], [(W - side) / 2, (H - side) / 2, (W + side) / 2, (H + side) / 2])
    assert track.crops.shape == (3, 64, 64, 3)


def test_empty_frames_never_raise():
    track = face_crops(np.zeros((2, H, W, 3), np.uint8), [FramePose(W, H, []), FramePose(W, H, [])], size=32).tracks[0]
    assert track.crops.shape == (2, 32, 32, 3) and not track.found.any()


def test_each_track_gets_its_own_crops():
    clip = [FramePose(W, H, [face_person(100, 100, 150, 170, track_id=4), face_person(400, 120, 460, 200, track_id=9)])
            for _ in range(5)]
    tracks = face_boxes(clip, smoothing=0)
    assert [t.track_id for t in tracks] == [4, 9]
    assert np.array_equal(tracks[0].boxes[2], expected_box(100, 100, 150, 170))
    assert np.array_equal(tracks[1].boxes[2], expected_box(400, 120, 460, 200))
    only = face_boxes(clip, people=[9], smoothing=0)
    assert [t.track_id for t in only] == [9]
    with pytest.raises(ValueError, match="no track with id 5"):
        face_boxes(clip, people=[5])


def test_boxes_follow_the_images_when_the_canvas_is_another_size():
    clip = [FramePose(W // 2, H // 2, [face_person(100, 75, 130, 115)])]
    images = np.zeros((1, H, W, 3), np.uint8)
    track = face_crops(images, clip, size=16, smoothing=0).tracks[0]
    assert np.array_equal(track.boxes[0], expected_box(200, 150, 260, 230))


def test_image_and_pose_counts_must_match():
    with pytest.raises(ValueError, match="2 images for 3 pose frames"):
        face_crops(np.zeros((2, H, W, 3), np.uint8), still_clip(3))


def test_crop_boxes_cuts_the_given_pixels():
    image = np.arange(H * W * 3, dtype=np.uint32).reshape(H, W, 3).astype(np.uint8)
    crops = crop_boxes([image], np.array([[10, 20, 42, 52]]), size=32)
    assert np.array_equal(crops[0], image[20:52, 10:42])


def test_consecutive_batches_with_a_state_match_one_batch():
    from dwpose_core.animate.face_crops import FaceCropState

    rng = np.random.default_rng(3)
    frames = []
    for t in range(80):
        dx, dy = 2 * t + rng.normal(0, 2), rng.normal(0, 2)
        frames.append(FramePose(W, H, [face_person(100 + dx, 150 + dy, 160 + dx, 230 + dy)]))
    frames[50] = FramePose(W, H, [])  # a lost face right after the cut
    whole = face_boxes(frames)[0].boxes
    state = FaceCropState()
    parts = [face_boxes(frames[i:i + 40], state=state)[0].boxes for i in (0, 40)]
    joined = np.concatenate(parts)
    # Away from the cut's last frames (they cannot see the future) the batches agree with the whole.
    assert np.abs(joined[40:] - whole[40:]).max() <= 1.0
    assert np.abs(joined[:30] - whole[:30]).max() <= 1.0


def test_a_batch_starting_without_a_face_keeps_the_last_box():
    from dwpose_core.animate.face_crops import FaceCropState

    state = FaceCropState()
    first = face_boxes(still_clip(5), state=state, smoothing=0)[0].boxes
    later = face_boxes([FramePose(W, H, []) for _ in range(3)], state=state)[0]
    assert not later.found.any()
    assert np.array_equal(later.boxes[0], first[-1])


def test_a_300_frame_clip_is_fast():
    # 13.7: CPU time (the machine may be shared); the first call also pays for 236 MB of fresh crops.
    import time

    images = np.zeros((300, 360, 640, 3), np.uint8)
    frames = [FramePose(W, H, [face_person(200 + t % 7, 150, 260 + t % 7, 230)]) for t in range(300)]
    face_crops(images[:2], frames[:2], size=512)  # imports
    start = time.process_time()
    result = face_crops(images, frames, size=512)
    assert time.process_time() - start < 1.5
    assert result.crops.shape == (300, 512, 512, 3)
