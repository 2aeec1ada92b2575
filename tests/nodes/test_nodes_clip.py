"""continue_clip: one clip processed in consecutive batches (runs) of DWPose Estimator / DWPose Smooth.

Ground truth: identities come from a scene whose order of appearance is known; the smoothed
second batch must equal a one-shot ``temporal.smooth`` of the whole clip (the core's own
whole-clip result), and a fresh start must equal the batch processed on its own.
"""
from __future__ import annotations

import importlib.util
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from oracles import make_detector, make_pose

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("comfy_stub_loader", ROOT / "tests" / "comfy_stubs" / "loader.py")
loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loader)

FRAME_HW = (240, 320)  # letterbox ratio 2: model px = frame px x 2, padding rows below the frame
# Person A's detector score is the blue mean of the letterboxed input / 255 (the oracle's probe):
# blue frames show A (score ~0.86, before B), dark frames hide it (~0.11 < 0.3). B is always there.
BOX_A = (20.0, 20.0, 100.0, 200.0)
BOX_B = (200.0, 20.0, 300.0, 200.0)
SCORE_B = 0.5


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if not loader.use_stubs():
        pytest.skip("ComfyUI itself is importable; these tests drive the stand-ins")
    pack = loader.pack_for_tests(tmp_path_factory.mktemp("comfy"))[0]  # one pack per process
    import comfy.model_management as mm
    import comfy.utils as cu

    nodes_pkg = f"{loader.PACK_NAME}.nodes"
    models = Path(sys.modules[f"{nodes_pkg}.comfy_bridge"].register_model_folder())  # idempotent
    models.mkdir(parents=True, exist_ok=True)
    boxes = [tuple(v * 2 for v in BOX_A) + (1.0,), tuple(v * 2 for v in BOX_B) + (SCORE_B,)]
    make_detector(models / "clip_det.onnx", boxes, channel_probe=True)
    make_pose(models / "clip_pose.onnx", (256, 192))
    shutil.copyfile(models / "clip_pose.onnx", models / "clip_pose_b.onnx")
    yield {"nodes": loader.node_classes(pack), "mm": mm, "utils": cu}


def frames(kinds: str, hw=FRAME_HW):
    """A ComfyUI IMAGE batch: 'b' = blue frame (A and B visible), 'd' = dark frame (B only)."""
    batch = torch.full((len(kinds), hw[0], hw[1], 3), 0.3, dtype=torch.float32)
    for i, kind in enumerate(kinds):
        batch[i, :, :, 2] = 1.0 if kind == "b" else 0.0
    return batch


def estimate(env, image, node="1", **widgets):
    options = dict(resolution=0, bbox_detector="clip_det.onnx", pose_estimator="clip_pose.onnx",
                   backend="onnxruntime", detect_feet="enable", tracking=True, unique_id=node)
    options.update(widgets)
    return loader.run(env["nodes"]["DWPoseEstimator"], image, **options)["result"][1]


def ids_by_person(pose_keypoint, hw=FRAME_HW):
    """Per frame: {"A" or "B": track_id}, telling the people apart by their boxes."""
    scale = hw[0] / FRAME_HW[0]
    out = []
    for frame in pose_keypoint:
        seen = {}
        for person in frame["people"]:
            box = np.asarray(person["box_2d"][:4])
            name = "A" if np.allclose(box, np.asarray(BOX_A) * scale, atol=1e-2) else "B"
            assert name == "A" or np.allclose(box, np.asarray(BOX_B) * scale, atol=1e-2), box
            seen[name] = person["track_id"]
        out.append(seen)
    return out


# ------------------------------------------------------------------------------ declarations

def widget_names(spec):
    return [name for section in ("required", "optional") for name, d in spec.get(section, {}).items()
            if d[0] in ("COMBO", "INT", "FLOAT", "BOOLEAN", "STRING") and not d[1].get("forceInput")]


def test_continue_clip_is_off_by_default_and_only_later_widgets_follow_it(env):
    later = {"DWPoseEstimator": ["profile", "max_detections", "det_size", "preset", "refine_hands"], "DWPoseSmooth": []}
    for name in ("DWPoseEstimator", "DWPoseSmooth"):
        spec = env["nodes"][name].INPUT_TYPES()
        names = widget_names(spec)
        assert names[names.index("continue_clip") + 1:] == later[name]
        kind, options = spec["optional"]["continue_clip"]
        assert kind == "BOOLEAN" and options["default"] is False and "batch" in options["tooltip"]
        assert spec["hidden"]["unique_id"] == ("UNIQUE_ID",)  # V3: io.Hidden.unique_id
    assert widget_names(env["nodes"]["DWPoseSmooth"].INPUT_TYPES()) == ["strength", "continue_clip"]


@pytest.mark.parametrize("name", ["DWPoseEstimator", "DWPoseSmooth"])
def test_a_continued_run_is_never_cached(env, name):
    cls = env["nodes"][name]
    assert "IS_CHANGED" not in vars(cls)  # V3: fingerprint_inputs
    on = loader.fingerprint(cls, continue_clip=True, strength=1.0, unique_id="3")
    assert isinstance(on, float) and math.isnan(on)  # NaN != NaN: ComfyUI runs the node every time
    # continue_clip linked to another node: ComfyUI passes it as None (not yet computed): may be on
    assert math.isnan(loader.fingerprint(cls, continue_clip=None, strength=1.0))
    off = loader.fingerprint(cls, continue_clip=False, strength=1.0, unique_id="3")
    assert off == loader.fingerprint(cls, continue_clip=False, strength=1.0, unique_id="3")  # cached as usual


# ------------------------------------------------------------------------------ estimator

def test_estimator_track_ids_continue_across_batches(env):
    first = ids_by_person(estimate(env, frames("ddbb"), node="ids"))
    # B is seen first (id 0); A appears in frame 2 (id 1).
    assert first == [{"B": 0}, {"B": 0}, {"A": 1, "B": 0}, {"A": 1, "B": 0}]
    second = ids_by_person(estimate(env, frames("bbb"), node="ids", continue_clip=True))
    assert second == [{"A": 1, "B": 0}] * 3
    # Off: a new clip. A now comes first in the detections, so it gets id 0.
    fresh = ids_by_person(estimate(env, frames("bbb"), node="ids", continue_clip=False))
    assert fresh == [{"A": 0, "B": 1}] * 3
    assert ids_by_person(estimate(env, frames("bbb"), node="never-ran")) == fresh
    # ... and the run with continue_clip off is where the next continued run starts from.
    assert ids_by_person(estimate(env, frames("bd"), node="ids", continue_clip=True)) == [{"A": 0, "B": 1},
                                                                                           {"B": 1}]


def test_estimator_starts_afresh_when_the_frame_size_or_models_change(env):
    estimate(env, frames("db"), node="reset")
    small = (120, 160)
    resized = ids_by_person(estimate(env, frames("bb", small), node="reset", continue_clip=True), small)
    assert resized == [{"A": 0, "B": 1}] * 2  # a new size: a new clip
    estimate(env, frames("db"), node="models")
    other = ids_by_person(estimate(env, frames("bb"), node="models", continue_clip=True,
                                   pose_estimator="clip_pose_b.onnx"))
    assert other == [{"A": 0, "B": 1}] * 2
    # Same size and models as the previous run: it continues.
    estimate(env, frames("db"), node="models", pose_estimator="clip_pose_b.onnx")
    assert ids_by_person(estimate(env, frames("bb"), node="models", continue_clip=True,
                                  pose_estimator="clip_pose_b.onnx")) == [{"A": 1, "B": 0}] * 2


def detected(pose_keypoint):
    """Per frame: True where the boxes are the detector's (not derived from the previous keypoints)."""
    return [all(np.allclose(p["box_2d"][:4], BOX_A, atol=1e-3) or np.allclose(p["box_2d"][:4], BOX_B, atol=1e-3)
                for p in f["people"]) for f in pose_keypoint]


def test_detect_every_schedule_continues_across_batches(env):
    assert detected(estimate(env, frames("bb"), node="every", detect_every=3)) == [True, False]
    # Clip frames 2, 3, 4: the detector is due on frame 3 (the second frame of this batch).
    assert detected(estimate(env, frames("bbb"), node="every", detect_every=3, continue_clip=True)) == [
        False, True, False]
    assert detected(estimate(env, frames("bbb"), node="every", detect_every=3)) == [True, False, False]


def test_an_interrupted_run_leaves_the_clip_state_as_it_was(env, monkeypatch):
    cu, mm = env["utils"], env["mm"]
    clip = frames("b" * 2), frames("b" * 20)
    options = dict(detect_every=3, smoothing=1.0)
    estimate(env, clip[0], node="clean", **options)
    reference = estimate(env, clip[1], node="clean", continue_clip=True, **options)

    estimate(env, clip[0], node="cut", **options)
    original = cu.ProgressBar.update_absolute

    def update_then_cancel(self, value, total=None, preview=None):
        original(self, value, total, preview)
        mm.interrupt_current_processing(True)  # Cancel after the first chunk of 16 frames

    monkeypatch.setattr(cu.ProgressBar, "update_absolute", update_then_cancel)
    try:
        with pytest.raises(mm.InterruptProcessingException):
            estimate(env, clip[1], node="cut", continue_clip=True, **options)
    finally:
        mm.interrupt_processing = False
    monkeypatch.setattr(cu.ProgressBar, "update_absolute", original)
    again = estimate(env, clip[1], node="cut", continue_clip=True, **options)
    assert detected(again) == detected(reference)
    assert [[p["track_id"] for p in f["people"]] for f in again] == \
           [[p["track_id"] for p in f["people"]] for f in reference]
    for got, want in zip(again, reference):
        for p, q in zip(got["people"], want["people"]):
            np.testing.assert_allclose(p["wholebody_keypoints_2d"], q["wholebody_keypoints_2d"], atol=1e-4)


# ------------------------------------------------------------------------------ DWPose Smooth

def walking_clip(n=50, seed=0):
    """Two people walking towards each other (never overlapping), with noise and dropped points.

    People are listed [P, Q] in the first half and [Q, P] in the second, so ids from a fresh
    tracker on the second half differ from the continued ones.
    """
    from dwpose_core.types import FramePose, Person

    rng = np.random.default_rng(seed)
    shape = rng.uniform([-30, -80], [30, 80], size=(133, 2))  # a fixed body layout around the centre
    clip = []
    for t in range(n):
        people = []
        for centre in ((60 + 3 * t, 100 + 10 * np.sin(t / 6)), (560 - 2.5 * t, 300)):
            kp = shape + centre + rng.normal(0, 1.5, size=(133, 2))
            scores = rng.uniform(0.6, 1.0, size=133)
            scores[rng.random(133) < 0.05] = 0.1  # dropped points
            box = (centre[0] - 30, centre[1] - 80, centre[0] + 30, centre[1] + 80)
            people.append(Person(kp, scores, box, 0.9))
        clip.append(FramePose(640, 480, people if t < n // 2 else people[::-1]))
    return clip


def as_json(clip):
    from dwpose_core.formats.pose_json import to_pose_keypoint

    return to_pose_keypoint(clip)


def smooth_node(env, pose_keypoint, node, **widgets):
    (out,) = loader.run(env["nodes"]["DWPoseSmooth"], pose_keypoint, strength=1.0, unique_id=node, **widgets)["result"]
    return out


def wholebody(person):
    return np.asarray(person["wholebody_keypoints_2d"], dtype=np.float64).reshape(133, 3)


def assert_same_poses(got, want, atol=1e-3):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert [p["track_id"] for p in g["people"]] == [p["track_id"] for p in w["people"]]
        for p, q in zip(g["people"], w["people"]):
            np.testing.assert_allclose(wholebody(p)[:, :2], wholebody(q)[:, :2], atol=atol)
            np.testing.assert_array_equal(wholebody(p)[:, 2], wholebody(q)[:, 2])


def max_difference(got, want):
    return max(np.abs(wholebody(p)[:, :2] - wholebody(q)[:, :2]).max()
               for g, w in zip(got, want) for p, q in zip(g["people"], w["people"]))


def test_smooth_second_batch_equals_smoothing_the_whole_clip(env):
    from dwpose_core import temporal
    from dwpose_core.formats import pose_json as formats

    clip = as_json(walking_clip())
    half = len(clip) // 2
    whole = as_json(temporal.smooth(formats.from_pose_keypoint(clip), strength=1.0))
    smooth_node(env, clip[:half], "s")
    second = smooth_node(env, clip[half:], "s", continue_clip=True)
    assert_same_poses(second, whole[half:])
    assert {p["track_id"] for p in second[0]["people"]} == {0, 1}
    # Not a coincidence: the second half smoothed on its own is different near the seam.
    alone = as_json(temporal.smooth(formats.from_pose_keypoint(clip[half:]), strength=1.0))
    assert max_difference(alone, whole[half:]) > 0.05


def test_smooth_continues_over_many_batches(env):
    from dwpose_core import temporal
    from dwpose_core.formats import pose_json as formats

    # Each batch is smoothed as the clip so far would be in one go: its last frames cannot see
    # the frames of the next batch, as the end of a clip cannot.
    clip = as_json(walking_clip(60, seed=3))
    cuts = [0, 20, 24, 27, 45, 60]  # batches shorter than the smoother's context too
    for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
        out = smooth_node(env, clip[a:b], "many", continue_clip=i > 0)
        so_far = as_json(temporal.smooth(formats.from_pose_keypoint(clip[:b]), strength=1.0))
        assert_same_poses(out, so_far[a:b])


def test_smooth_without_continue_clip_starts_a_new_clip(env):
    from dwpose_core import temporal
    from dwpose_core.formats import pose_json as formats

    clip = as_json(walking_clip(seed=1))
    half = len(clip) // 2
    alone = as_json(temporal.smooth(formats.from_pose_keypoint(clip[half:]), strength=1.0))
    smooth_node(env, clip[:half], "fresh")
    fresh = smooth_node(env, clip[half:], "fresh", continue_clip=False)
    assert_same_poses(fresh, alone)
    # The listed order flipped at the cut: a fresh tracker numbers Q first; the continued one would not.
    continued = smooth_node(env, clip[:half], "cont")
    continued = smooth_node(env, clip[half:], "cont", continue_clip=True)
    assert [p["track_id"] for p in fresh[0]["people"]] == [0, 1]
    assert [p["track_id"] for p in continued[0]["people"]] == [1, 0]


def test_smooth_starts_afresh_when_the_canvas_size_changes(env):
    from dwpose_core import temporal
    from dwpose_core.formats import pose_json as formats

    clip = walking_clip(seed=2)
    half = len(clip) // 2
    smooth_node(env, as_json(clip[:half]), "size")
    for frame in clip[half:]:
        frame.width, frame.height = 1280, 720
    second = as_json(clip[half:])
    alone = as_json(temporal.smooth(formats.from_pose_keypoint(second), strength=1.0))
    assert_same_poses(smooth_node(env, second, "size", continue_clip=True), alone)
