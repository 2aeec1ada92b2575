import numpy as np
import pytest

from dwpose_core.pipeline import VideoState, WholeBodyEstimator
from oracles import make_detector, make_pose


@pytest.fixture
def estimator(tmp_path):
    # two people in a 240x320 frame (letterbox ratio 2): a large one and a small, more confident one
    boxes = [(20, 20, 150, 230, 0.8), (200, 100, 260, 200, 0.95)]
    det = make_detector(tmp_path / "det.onnx", [(x1 * 2, y1 * 2, x2 * 2, y2 * 2, s) for x1, y1, x2, y2, s in boxes])
    return WholeBodyEstimator(det, make_pose(tmp_path / "pose.onnx", dynamic_batch=True), backend="onnxruntime")


def _count_runs(model):
    calls = []
    original = model.run
    model.run = lambda batch: calls.append(len(batch)) or original(batch)
    return calls, lambda: setattr(model, "run", original)


FRAMES = [np.zeros((240, 320, 3), np.uint8)] * 7


def test_selection_modes_pick_the_expected_person(estimator):
    assert len(estimator(FRAMES[:1])[0].people) == 2
    (largest,) = estimator(FRAMES[:1], selection="largest")[0].people
    assert largest.box_score == pytest.approx(0.8)
    (confident,) = estimator(FRAMES[:1], selection="most_confident")[0].people
    assert confident.box_score == pytest.approx(0.95)
    assert len(estimator(FRAMES[:1], max_people=1)[0].people) == 1


def test_progress_reports_every_chunk_and_can_interrupt(estimator):
    seen = []
    estimator(FRAMES, chunk_size=3, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 7), (6, 7), (7, 7)]

    class Stop(Exception):
        pass

    def interrupt(done, total):
        raise Stop

    with pytest.raises(Stop):
        estimator(FRAMES, chunk_size=3, progress=interrupt)


def test_detection_every_n_frames_runs_the_detector_less(estimator):
    calls, restore = _count_runs(estimator.detector.model)
    try:
        frames = estimator(FRAMES, det_every=3)
    finally:
        restore()
    assert len(calls) == 3  # frames 0, 3, 6
    assert all(len(f.people) == 2 for f in frames)


def test_detection_interval_continues_across_batches(estimator):
    state = VideoState()
    calls, restore = _count_runs(estimator.detector.model)
    try:
        estimator(FRAMES[:4], det_every=3, video_state=state)
        estimator(FRAMES[:4], det_every=3, video_state=state)  # frames 4..7 of the clip: detect on 6
    finally:
        restore()
    assert len(calls) == 3


def test_tracking_gives_stable_ids_and_selection_per_track(estimator):
    frames = estimator(FRAMES, track=True, selection="largest")
    ids = {p.track_id for f in frames for p in f.people}
    assert len(ids) == 1 and all(len(f.people) == 1 for f in frames)
    assert all(f.people[0].box_score == pytest.approx(0.8) for f in frames)


def test_empty_batch_gives_empty_result(estimator):
    assert estimator([]) == []


def test_wrong_options_are_clear_errors(estimator):
    with pytest.raises(ValueError, match="selection"):
        estimator(FRAMES[:1], selection="tallest")
    with pytest.raises(ValueError, match="det_every"):
        estimator(FRAMES[:1], det_every=0)
