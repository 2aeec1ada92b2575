"""The one job's rules, tested once here (the adapters' tests only test adaptation)."""
import numpy as np
import pytest

from dwpose_core import estimator_pool
from dwpose_core.annotate import AnnotateOptions, ClipState, Parts, PoseAnnotator
from dwpose_core.backends import BackendError
from dwpose_core.estimator_pool import EstimatorPool, ModelSetup
from dwpose_core.types import FramePose, Person
from oracles import make_pose

FOOT = slice(17, 23)


def planted_person(x0=100.0, y0=50.0) -> Person:
    kp = np.stack([x0 + np.arange(133) % 11 * 4.0, y0 + np.arange(133) // 11 * 6.0], axis=1)
    return Person(kp, np.full(133, 0.9), [x0 - 5, y0 - 5, x0 + 60, y0 + 90], 0.95)


class FakeEstimator:
    """Returns one planted person per frame and records how it was called."""

    def __init__(self):
        self.calls = []

    def __call__(self, frames, **kwargs):
        self.calls.append(kwargs)
        return [FramePose(f.shape[1], f.shape[0], [planted_person()]) for f in frames]


def frames(n=1):
    return np.zeros((n, 240, 320, 3), np.uint8)


def test_a_part_switched_off_is_absent_from_json_and_picture():
    est = FakeEstimator()
    with_feet = PoseAnnotator(est, AnnotateOptions(parts=Parts(feet=True)))(frames())
    without = PoseAnnotator(est, AnnotateOptions(parts=Parts(feet=False)))(frames())
    wb_on = np.array(with_feet.pose_keypoint[0]["people"][0]["wholebody_keypoints_2d"]).reshape(133, 3)
    wb_off = np.array(without.pose_keypoint[0]["people"][0]["wholebody_keypoints_2d"]).reshape(133, 3)
    expected = planted_person().keypoints[FOOT]
    np.testing.assert_allclose(wb_on[FOOT, :2], expected, atol=1e-3)
    assert np.all(wb_off[FOOT] == 0)
    assert without.pose_keypoint[0]["people"][0].get("parts", ["body", "hands", "face"]) == ["body", "hands", "face"]
    # the picture differs exactly because of the feet: drawn with them, not without
    diff = np.any(with_feet.pictures[0] != without.pictures[0], axis=2)
    ys, xs = np.nonzero(diff)
    assert diff.any()
    fx, fy = expected[:, 0], expected[:, 1]
    assert xs.min() >= fx.min() - 12 and xs.max() <= fx.max() + 12
    assert ys.min() >= fy.min() - 12 and ys.max() <= fy.max() + 12


def test_smoothing_turns_tracking_on():
    est = FakeEstimator()
    PoseAnnotator(est, AnnotateOptions(smoothing=0.5))(frames(2))
    PoseAnnotator(est, AnnotateOptions())(frames(2))
    assert est.calls[0]["track"] is True and est.calls[1]["track"] is False


def test_options_name_the_value_that_is_wrong():
    with pytest.raises(ValueError, match="det_every"):
        AnnotateOptions(det_every=0)
    with pytest.raises(ValueError, match="profile"):
        AnnotateOptions(profile="nope")
    with pytest.raises(ValueError, match="selection"):
        AnnotateOptions(selection="tallest")


def test_boxes_and_pictures_come_back_per_frame():
    result = PoseAnnotator(FakeEstimator(), AnnotateOptions(resolution=480))(frames(3))
    assert len(result.boxes) == 3 and result.boxes[0].shape == (1, 4)
    np.testing.assert_allclose(result.boxes[0][0], planted_person().box)
    assert [p.shape for p in result.pictures] == [(480, 640, 3)] * 3
    assert PoseAnnotator(FakeEstimator(), AnnotateOptions(draw=False))(frames()).pictures is None


def test_clip_state_counts_frames_across_batches():
    annotator, state = PoseAnnotator(FakeEstimator()), ClipState()
    annotator(frames(2), state=state)
    annotator(frames(3), state=state)
    assert state.frames_done == 5


# ------------------------------------------------------------------ selection before the pose stage

def crossing_boxes(n=24):
    """Person A (large) walks right, person B (smaller) walks left; they cross at the middle frame."""
    out = []
    for t in range(n):
        ax = 20 + t * 10
        bx = 260 - t * 10
        a = [ax, 40, ax + 70, 220]
        b = [bx, 60, bx + 55, 200]
        out.append(np.array([b, a] if t % 2 else [a, b], np.float32))
    return out


def test_with_tracking_only_the_chosen_track_is_posed_and_it_stays_the_same(tmp_path):
    from dwpose_core.pipeline import WholeBodyEstimator

    est = WholeBodyEstimator(None, make_pose(tmp_path / "pose.onnx"), backend="onnxruntime")
    posed = []
    real = est.pose.__call__

    class Counting:
        model = est.pose.model

        def __call__(self, frames_, frame_index, boxes):
            posed.append(len(boxes))
            return real(frames_, frame_index, boxes)

    est.pose = Counting()
    boxes = crossing_boxes()
    options = AnnotateOptions(selection="largest", tracking=True, chunk_size=4)
    result = PoseAnnotator(est, options)(np.zeros((len(boxes), 240, 400, 3), np.uint8), boxes=boxes)
    assert sum(posed) == len(boxes)  # one crop per frame, not two
    for t, frame_boxes in enumerate(result.boxes):
        a = [20 + t * 10, 40, 20 + t * 10 + 70, 220]
        np.testing.assert_allclose(frame_boxes, [a], atol=1e-3)
    assert len({p.track_id for f in result.poses for p in f.people}) == 1


# ------------------------------------------------------------------ pool and backend fallback

class Recorder:
    def __init__(self, fail_on=()):
        self.built, self.fail_on = [], set(fail_on)

    def __call__(self, detector, pose, *, backend, **kwargs):
        self.built.append(backend)
        if backend in self.fail_on:
            raise BackendError(f"{backend} cannot run {pose}")
        return Released()


class Released:
    def __init__(self):
        self.count = 0

    def release(self):
        self.count += 1


def test_auto_falls_back_to_onnxruntime_once_when_torch_cannot_run(monkeypatch, caplog):
    import dwpose_core.pipeline as pipeline

    caplog.set_level("WARNING", logger="dwpose")
    rec = Recorder(fail_on={"auto"})
    monkeypatch.setattr(pipeline, "WholeBodyEstimator", rec)
    estimator_pool.build_estimator(ModelSetup("det.onnx", "pose.onnx"))
    assert rec.built == ["auto", "onnxruntime"]
    assert "ONNX Runtime instead" in caplog.text


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_an_explicit_backend_is_honoured_or_refused(monkeypatch, backend):
    import dwpose_core.pipeline as pipeline

    rec = Recorder(fail_on={backend})
    monkeypatch.setattr(pipeline, "WholeBodyEstimator", rec)
    with pytest.raises(BackendError):
        estimator_pool.build_estimator(ModelSetup("det.onnx", "pose.onnx", backend=backend))
    assert rec.built == [backend]


def test_a_checkpoint_never_falls_back(monkeypatch):
    import dwpose_core.pipeline as pipeline

    rec = Recorder(fail_on={"auto"})
    monkeypatch.setattr(pipeline, "WholeBodyEstimator", rec)
    with pytest.raises(BackendError):
        estimator_pool.build_estimator(ModelSetup(None, "pose.pth"))
    assert rec.built == ["auto"]


def test_pool_reuses_per_holder_and_releases_what_is_replaced():
    built = []
    pool = EstimatorPool(factory=lambda setup: built.append(Released()) or built[-1])
    a = pool.get("node:1", ModelSetup(None, "a.onnx"))
    assert pool.get("node:1", ModelSetup(None, "a.onnx")) is a and len(built) == 1
    b = pool.get("node:1", ModelSetup(None, "b.onnx"))
    assert b is not a and a.count == 1
    other = pool.get("node:2", ModelSetup(None, "b.onnx"))
    assert pool.release("node:1") is True and pool.release("node:1") is False
    assert b.count == 1 and other.count == 0
    assert pool.release_all() == 1 and other.count == 1 and len(pool) == 0


def test_releasing_an_estimator_twice_keeps_models_another_holds(tmp_path):
    from dwpose_core import backends
    from dwpose_core.pipeline import WholeBodyEstimator

    path = make_pose(tmp_path / "pose.onnx")
    first = WholeBodyEstimator(None, path, backend="onnxruntime")
    second = WholeBodyEstimator(None, path, backend="onnxruntime")
    (shared,) = first.models
    assert second.models == [shared]  # one model, two holders
    first.release()
    first.release()
    assert first.models == [] and any(m is shared for m in backends._cache.values())
    out = second(np.zeros((1, 64, 48, 3), np.uint8))  # still usable: the shared model was not freed
    assert len(out[0].people) == 1
    second.release()
    assert all(m is not shared for m in backends._cache.values())


def test_boxes_from_comfyui_bounding_box_values():
    from dwpose_core.annotate import _frame_boxes

    one = {"x": 10, "y": 20, "width": 30, "height": 40}
    for value in (one, [one], [[one]]):
        got = _frame_boxes(value, 2)
        assert len(got) == 2
        np.testing.assert_allclose(got[1], [[10, 20, 40, 60]])
    assert _frame_boxes({}, 3) is None  # an unconnected input as an old UI sends it
    with pytest.raises(ValueError, match="frames"):
        _frame_boxes([np.zeros((1, 4)), np.zeros((1, 4))], 3)
