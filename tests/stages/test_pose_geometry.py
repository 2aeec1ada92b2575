"""Planted keypoints come back in original-frame pixels (oracle models, no real weights)."""
import numpy as np
import pytest

from dwpose_core.pipeline import WholeBodyEstimator
from dwpose_core.stages.pose import decode_simcc
from oracles import expected_fixed_points, make_detector, make_pose, plant_markers, reference_center_scale

POSE_SIZES = [(256, 192), (384, 288)]


def _estimator(tmp_path, frame_box, frame_hw, input_hw, dynamic=False):
    r = min(640 / frame_hw[0], 640 / frame_hw[1])
    model_box = tuple(np.array(frame_box, np.float64) * r) + (0.9,)
    det = make_detector(tmp_path / f"det_{frame_hw}_{frame_box}.onnx".replace(" ", ""), [model_box])
    pose = make_pose(tmp_path / f"pose_{input_hw}_{dynamic}.onnx", input_hw, dynamic_batch=dynamic)
    return WholeBodyEstimator(det, pose, backend="onnxruntime")


def _markers_inside(box, frame_hw, rng):
    x1, y1, x2, y2 = box
    lo_x, hi_x = max(x1, 0) + 2, min(x2, frame_hw[1]) - 3
    lo_y, hi_y = max(y1, 0) + 2, min(y2, frame_hw[0]) - 3
    xs = rng.integers(int(np.ceil(lo_x)), int(hi_x), size=3)
    ys = rng.integers(int(np.ceil(lo_y)), int(hi_y), size=3)
    return np.stack([xs, ys], axis=1).astype(np.float64)


CASES = [
    # frame (h, w), person box in frame px
    ((480, 640), (120.0, 40.0, 360.0, 460.0)),
    ((720, 1280), (900.0, 300.0, 1270.0, 715.0)),  # touching the bottom-right border
    ((1000, 300), (0.0, 0.0, 150.0, 700.0)),  # touching the top-left corner, tall frame
    ((96, 128), (10.0, 8.0, 100.0, 90.0)),  # small frame: crop upsamples
    ((1500, 2600), (1800.0, 100.0, 2590.0, 1490.0)),  # large frame: crop downsamples
]


@pytest.mark.parametrize("input_hw", POSE_SIZES)
@pytest.mark.parametrize("frame_hw,box", CASES)
def test_planted_markers_recovered_in_frame_pixels(tmp_path, input_hw, frame_hw, box):
    rng = np.random.default_rng(hash((frame_hw, box)) % 2**32)
    (_, _), (sw, sh) = reference_center_scale(box, input_hw)
    frame_px_per_crop_px = sw / input_hw[1]
    points = _markers_inside(box, frame_hw, rng)
    image = np.zeros(frame_hw + (3,), np.uint8)
    plant_markers(image, points, radius=3.0 * max(1.0, frame_px_per_crop_px) + 1.0)
    est = _estimator(tmp_path, box, frame_hw, input_hw)
    (frame,) = est([image])
    assert (frame.width, frame.height) == (frame_hw[1], frame_hw[0])
    assert len(frame.people) == 1
    person = frame.people[0]
    tolerance = 0.5 * frame_px_per_crop_px + 0.5  # nearest crop pixel + the warp's interpolation
    np.testing.assert_array_less(np.abs(person.keypoints[:3] - points), tolerance)
    assert (person.scores[:3] > 0.3).all()
    # fixed-bin points come back to float precision
    np.testing.assert_allclose(person.keypoints[3:], expected_fixed_points(box, input_hw),
                               atol=1e-3 * max(1.0, max(frame_hw) / 1000))
    np.testing.assert_allclose(person.scores[3:], 1.0)
    np.testing.assert_allclose(person.box, box, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("input_hw", POSE_SIZES)
def test_no_detector_uses_whole_frame_box(tmp_path, input_hw):
    pose = make_pose(tmp_path / "pose.onnx", input_hw)
    est = WholeBodyEstimator(None, pose, backend="onnxruntime")
    image = np.zeros((360, 500, 3), np.uint8)
    (frame,) = est([image])
    person = frame.people[0]
    np.testing.assert_allclose(person.box, [0, 0, 500, 360])
    np.testing.assert_allclose(person.keypoints[3:], expected_fixed_points((0, 0, 500, 360), input_hw), atol=1e-3)


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("n_frames", [1, 3, 7])
def test_batches_go_through_the_model_in_as_few_calls_as_allowed(tmp_path, dynamic, n_frames):
    hw = (240, 320)
    r = 640 / 320
    boxes = [(20, 20, 150, 230), (170, 10, 310, 235)]
    det = make_detector(tmp_path / "det2.onnx", [tuple(np.array(b) * r) + (0.9,) for b in boxes])
    pose = make_pose(tmp_path / "pose.onnx", (256, 192), dynamic_batch=dynamic)
    est = WholeBodyEstimator(det, pose, backend="onnxruntime")
    calls = []
    original = est.pose.model.run
    est.pose.model.run = lambda batch: calls.append(len(batch)) or original(batch)
    try:
        frames = est([np.zeros(hw + (3,), np.uint8)] * n_frames)
    finally:
        est.pose.model.run = original
    crops = 2 * n_frames
    from dwpose_core.stages.pose import CPU_CHUNK

    chunks = [min(CPU_CHUNK, crops - lo) for lo in range(0, crops, CPU_CHUNK)]
    assert calls == (chunks if dynamic else [1] * crops)
    for frame in frames:
        got = sorted(tuple(np.round(p.box).astype(int)) for p in frame.people)
        assert got == sorted(boxes)
        for p in frame.people:
            np.testing.assert_allclose(p.keypoints[3:], expected_fixed_points(tuple(p.box), (256, 192)), atol=1e-3)


def test_simcc_decode_hand_computed():
    sx = np.zeros((1, 2, 10), np.float32)
    sy = np.zeros((1, 2, 8), np.float32)
    sx[0, 0, 7], sy[0, 0, 3] = 0.9, 0.6
    sx[0, 1, 0], sy[0, 1, 5] = 0.2, 0.8
    kp, sc = decode_simcc(sx, sy)
    np.testing.assert_allclose(kp[0], [[3.5, 1.5], [0.0, 2.5]])
    np.testing.assert_allclose(sc[0], [0.6, 0.2])


def test_frame_with_no_person_gives_empty_people(tmp_path):
    det = make_detector(tmp_path / "nobody.onnx", [(10, 10, 100, 100, 0.05)])  # below keep threshold
    est = WholeBodyEstimator(det, make_pose(tmp_path / "p.onnx"), backend="onnxruntime")
    frames = est([np.zeros((200, 300, 3), np.uint8)] * 2)
    assert [f.people for f in frames] == [[], []]


def test_8000_pixel_image(tmp_path):
    hw, box = (6000, 8000), (3000.0, 1000.0, 5000.0, 5500.0)
    est = _estimator(tmp_path, box, hw, (384, 288))
    (frame,) = est([np.zeros(hw + (3,), np.uint8)])
    np.testing.assert_allclose(frame.people[0].keypoints[3:], expected_fixed_points(box, (384, 288)), atol=5e-3)


# ----------------------------------------------------------------------------- crops in float64

MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)


def _reference_matrix(box, input_hw, dtype=np.float64):
    """The warp as comfyui_controlnet_aux / mmpose build it: centre and 1.25 x size with the aspect fix
    (in ``dtype``), then three point pairs (centre, the point half a box width above it, the third point
    perpendicular to both) stored as float32 points and solved by cv2.getAffineTransform."""
    import cv2

    x1, y1, x2, y2 = (dtype(v) for v in box)
    cx, cy = (x1 + x2) * dtype(0.5), (y1 + y2) * dtype(0.5)
    w, h = (x2 - x1) * dtype(1.25), (y2 - y1) * dtype(1.25)
    aspect = dtype(input_hw[1] / input_hw[0])
    w, h = (w, w / aspect) if w > h * aspect else (h * aspect, h)
    out_h, out_w = input_hw

    def third(a, b):
        d = a - b
        return b + np.array([-d[1], d[0]], np.float32)

    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = (cx, cy)
    src[1] = (cx + 0.0, cy + w * dtype(-0.5))
    src[2] = third(src[0], src[1])
    dst[0] = (out_w * 0.5, out_h * 0.5)
    dst[1] = dst[0] + np.array([0.0, out_w * -0.5])
    dst[2] = third(dst[0], dst[1])
    return cv2.getAffineTransform(src, dst)


def _warp(frame, matrix, input_hw):
    import cv2

    return cv2.warpAffine(frame, matrix, (input_hw[1], input_hw[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _pose_stage_inputs(tmp_path, frame, boxes, input_hw):
    from dwpose_core.backends import load_model
    from dwpose_core.stages.pose import WholeBodyPoseModel

    model = WholeBodyPoseModel(load_model(make_pose(tmp_path / "p.onnx", input_hw, dynamic_batch=True),
                                          backend="onnxruntime"))
    seen = []
    original = model.model.run
    model.model.run = lambda batch: seen.append(batch.copy()) or original(batch)
    try:
        model([frame], np.zeros(len(boxes), np.int64), boxes)
    finally:
        model.model.run = original
    return np.concatenate(seen)


@pytest.mark.parametrize("input_hw", POSE_SIZES)
def test_crops_equal_an_independent_float64_construction(tmp_path, input_hw):
    import cv2

    rng = np.random.default_rng(11)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (517, 731, 3), dtype=np.uint8), (0, 0), 1.2)
    boxes = np.concatenate([rng.uniform(-50, 500, (40, 2)), rng.uniform(20, 400, (40, 2))], axis=1)
    boxes[:, 2:] += boxes[:, :2]
    boxes = boxes.astype(np.float32)  # the detector hands float32 boxes over
    boxes[0] = (0, 0, 731, 517)  # the "no detector" box
    boxes[1] = (0.36, 0.72, 288.72, 384.36)  # decimals float32 cannot hold exactly
    ours = _pose_stage_inputs(tmp_path, frame, boxes, input_hw)
    float32_differs = 0
    for k, box in enumerate(boxes):
        patch = _warp(frame, _reference_matrix(box, input_hw), input_hw)
        expected = ((patch.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)
        np.testing.assert_array_equal(ours[k], expected)
        # centre/scale arithmetic in float32 moves some pixels: the test tells the two apart
        patch32 = _warp(frame, _reference_matrix(box, input_hw, np.float32), input_hw)
        float32_differs += int((patch32 != patch).any())
    assert float32_differs > 0


def test_closed_form_float64_warp_is_within_a_grey_level_of_the_reference(tmp_path):
    """An exact float64 affine (no point pairs) gives the same crop up to ties: at most one grey level
    at a few pixels in a thousand (random noise, the worst case for ties)."""
    rng = np.random.default_rng(5)
    input_hw = (384, 288)
    frame = rng.integers(0, 256, (600, 800, 3), dtype=np.uint8)
    box = (123.4, 56.7, 456.7, 589.1)
    (cx, cy), (sw, _sh) = reference_center_scale(box, input_hw)
    s = input_hw[1] / sw
    exact = np.array([[s, 0, input_hw[1] / 2 - s * cx], [0, s, input_hw[0] / 2 - s * cy]])
    ours = _pose_stage_inputs(tmp_path, frame, np.array([box], np.float32), input_hw)[0]
    exact_crop = ((_warp(frame, exact, input_hw).astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)
    grey = np.abs(ours - exact_crop) * STD[:, None, None]
    assert grey.max() <= 1.001 and (grey > 0.5).mean() < 5e-3
