"""Profiles drawn at another size and scaled: resizing only the part with strokes gives exactly the
pixels of resizing the whole drawing canvas (cv2.INTER_AREA), at sizes whose ratios do and do not
let pixel edges coincide."""
import cv2
import numpy as np
import pytest

from dwpose_core.render import draw as render
from dwpose_core.types import FramePose, Person


def whole_canvas_resize(cv2_, canvas, strokes, w, h):
    interpolation = cv2.INTER_AREA if w < canvas.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(canvas, (w, h), interpolation=interpolation)


@pytest.mark.parametrize("profile", ["mimicmotion", "vace", "steadydancer"])
@pytest.mark.parametrize("size", [(512, 768), (500, 701), (640, 360), (1000, 1000)])
def test_partial_resize_equals_the_whole_canvas_resize(profile, size, monkeypatch):
    rng = np.random.default_rng(hash((profile, size)) % 2**32)
    for _ in range(4):
        spread = rng.uniform(0.15, 1.0)
        kp = np.stack([rng.uniform(0, size[0] * spread, 133), rng.uniform(0, size[1] * spread, 133)], axis=1)
        frame = FramePose(size[0], size[1], [Person(kp, rng.uniform(0.2, 1.0, 133), [0, 0, 10, 10], 0.9)])
        fast = render.draw_pose(frame, profile=profile)
        with monkeypatch.context() as m:
            m.setattr(render, "_resize", whole_canvas_resize)
            reference = render.draw_pose(frame, profile=profile)
        np.testing.assert_array_equal(fast, reference)
