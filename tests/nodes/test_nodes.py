"""The ComfyUI nodes, loaded the way ComfyUI loads a pack (folder imported by path), driven with
ComfyUI-shaped tensors and oracle models; ground truth comes from tests/oracles.py and REFERENCE.md."""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from oracles import expected_fixed_points, make_detector, make_pose

ROOT = Path(__file__).resolve().parents[2]
STUBS = ROOT / "tests" / "comfy_stubs"
_spec = importlib.util.spec_from_file_location("comfy_stub_loader", STUBS / "loader.py")
loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loader)

POSE_HW = (256, 192)
FRAME_HW = (240, 320)  # letterbox ratio r = min(640/240, 640/320) = 2
BOX_FRAME = (50.0, 30.0, 150.0, 200.0)
BOX_SCORE = 0.9


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    pack, root = loader.pack_for_tests(tmp_path_factory.mktemp("comfy"))
    if not loader.use_stubs():
        pytest.skip("ComfyUI itself is importable; these tests drive the stand-ins")
    import comfy.model_management as mm
    import comfy.utils as cu
    import folder_paths

    models = Path(folder_paths.models_dir) / "dwpose"
    models.mkdir(parents=True, exist_ok=True)
    make_detector(models / "oracle_det.onnx", [tuple(v * 2 for v in BOX_FRAME) + (BOX_SCORE,)])
    make_pose(models / "oracle_pose.onnx", POSE_HW)
    return {"pack": pack, "root": root, "mm": mm, "utils": cu, "fp": folder_paths, "models": models}


@pytest.fixture
def nodes(env):
    env["utils"].UPDATES.clear()
    env["mm"].CALLS.clear()
    env["mm"].interrupt_processing = False
    return loader.node_classes(env["pack"])


def _node_module(env, name):
    return sys.modules[f"{loader.PACK_NAME}.nodes.{name}"]


def comfy_batch(n=2, hw=FRAME_HW, channels=3):
    """A ComfyUI IMAGE: (B, H, W, C) float 0..1, mid-grey."""
    return torch.full((n, hw[0], hw[1], channels), 0.5, dtype=torch.float32)


def run_estimator(nodes, image, **widgets):
    options = dict(detect_hand="enable", detect_body="enable", detect_face="enable", resolution=512,
                   bbox_detector="oracle_det.onnx", pose_estimator="oracle_pose.onnx",
                   scale_stick_for_xinsir_cn="disable", detect_feet="enable", backend="onnxruntime",
                   detection_threshold=0.3, person_selection="all", top_k=1, unique_id="7")
    options.update(widgets)
    return loader.run(nodes["DWPoseEstimator"], image, **options)


def wholebody(person):
    return np.asarray(person["wholebody_keypoints_2d"], dtype=np.float64).reshape(133, 3)


# ------------------------------------------------------------------------------ packaging

def test_loading_the_pack_imports_nothing_heavy(tmp_path):
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('l', {str(STUBS / 'loader.py')!r})\n"
        "l = importlib.util.module_from_spec(spec); spec.loader.exec_module(l)\n"
        f"pack, _ = l.pack_for_tests({str(tmp_path)!r})\n"
        "assert len(l.node_classes(pack)) == 10\n"  # the entry point, its on_load and the node list too
        "heavy = [m for m in ('torch', 'onnxruntime', 'cv2', 'onnx', 'huggingface_hub', 'skimage', 'scipy')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_entry_point_gives_the_v3_nodes_and_web_directory(env):
    pack = env["pack"]
    classes = loader.node_classes(pack)
    assert set(classes) == {
        "DWPoseEstimator", "DWPoseModelLoader", "DWPoseRender", "DWPoseSaveJSON", "DWPoseLoadJSON",
        "DWPoseSelectPeople", "DWPoseSmooth", "DWPoseEditor", "DWPoseRetarget", "DWPoseFaceCrops"}
    assert loader.display_names(classes)["DWPoseEstimator"] == "DWPose Estimator"
    web = (ROOT / pack.WEB_DIRECTORY).resolve()
    assert web.is_dir() and any(web.glob("*.js"))


@pytest.mark.parametrize("name", ["DWPoseEstimator", "DWPoseModelLoader", "DWPoseRender", "DWPoseSaveJSON",
                                  "DWPoseLoadJSON", "DWPoseSelectPeople", "DWPoseSmooth", "DWPoseEditor",
                                  "DWPoseRetarget", "DWPoseFaceCrops"])
def test_node_declaration_is_consistent(env, name):
    cls = loader.node_classes(env["pack"])[name]
    spec = cls.INPUT_TYPES()
    assert cls.CATEGORY == "DWPose"
    for attr in ("RETURN_NAMES", "OUTPUT_TOOLTIPS"):
        assert len(getattr(cls, attr)) == len(cls.RETURN_TYPES)
        if cls.RETURN_TYPES:
            assert all(getattr(cls, attr)), f"{name}: every output has a {attr}"
    if not cls.RETURN_TYPES:
        assert cls.OUTPUT_NODE, "a node without outputs must be an output node"
    params = inspect.signature(cls.execute).parameters  # V3: a classmethod; hidden inputs are cls.hidden
    required = spec.get("required", {})
    everything = {**required, **spec.get("optional", {})}
    for input_name in everything:
        assert input_name in params, f"{name}.execute does not take {input_name}"
    for pname, p in params.items():
        assert pname in everything, f"{name}.execute has a parameter {pname} that is no input"
        if pname not in required:
            assert p.default is not inspect.Parameter.empty, f"optional input {pname} needs a default"
    for section in ("required", "optional"):
        for input_name, declared in spec.get(section, {}).items():
            options = declared[1] if len(declared) > 1 else {}
            assert options.get("tooltip"), f"{name}.{input_name} has no tooltip"
            if declared[0] == "COMBO" and "default" in options:
                assert options["default"] in options["options"]


def test_nodes_with_a_preview_get_it_back_when_served_from_the_cache(env):
    for name in ("DWPoseEstimator", "DWPoseRender", "DWPoseLoadJSON", "DWPoseEditor"):
        assert loader.node_classes(env["pack"])[name].HAS_INTERMEDIATE_OUTPUT is True


def test_estimator_widget_order_is_append_only(env):
    # Saved workflows store widget values by position: this order may only grow at the end.
    spec = loader.node_classes(env["pack"])["DWPoseEstimator"].INPUT_TYPES()
    widgets = [k for k, v in list(spec["required"].items()) + list(spec["optional"].items())
               if v[0] in ("COMBO", "INT", "FLOAT", "BOOLEAN", "STRING") and not v[1].get("forceInput")]
    assert widgets == [
        "detect_hand", "detect_body", "detect_face", "resolution", "bbox_detector", "pose_estimator",
        "scale_stick_for_xinsir_cn", "detect_feet", "backend", "detection_threshold", "person_selection",
        "top_k", "tracking", "smoothing", "detect_every", "continue_clip", "profile", "max_detections",
        "det_size", "preset", "refine_hands"]
    # a link-only input: no widget is drawn for it and nothing is sent while it is unconnected
    kind, options = spec["optional"]["bboxes"]
    assert kind == "BOUNDING_BOX" and options.get("forceInput") is True


def test_models_folder_is_registered_after_extra_model_paths(env):
    fp = env["fp"]
    bridge = _node_module(env, "comfy_bridge")
    default = os.path.join(fp.models_dir, "dwpose")
    assert fp.get_folder_paths("dwpose")[0] == default
    saved = fp.folder_names_and_paths["dwpose"]
    try:
        extra = str(env["root"] / "shared_models" / "dwpose")
        fp.folder_names_and_paths["dwpose"] = ([extra], set())  # as extra_model_paths.yaml leaves it
        bridge.register_model_folder()
        paths, exts = fp.folder_names_and_paths["dwpose"]
        assert paths == [extra, default]
        assert {".onnx", ".pth"} <= exts
        from dwpose_core.hub import locate

        searched = [str(p) for _label, p in locate.host_search_dirs()]
        assert extra in searched and default in searched
        assert str(locate.download_dir()) == default or os.environ.get("DWPOSE_CKPTS_DIR")
    finally:
        fp.folder_names_and_paths["dwpose"] = saved


def test_model_lists_show_present_files_then_downloads(env):
    (env["models"] / "oracle_pose.fused.safetensors").write_bytes(b"")  # the torch backend's weights cache
    names = loader.node_classes(env["pack"])["DWPoseEstimator"].INPUT_TYPES()["required"]
    detectors, poses = names["bbox_detector"][1]["options"], names["pose_estimator"][1]["options"]
    assert detectors[0] == "yolox_l.onnx" and detectors[-1] == "none"
    assert "oracle_det.onnx" in detectors and "oracle_pose.onnx" in poses
    assert not any(n.endswith(".fused.safetensors") for n in poses)
    assert poses[0] == "dw-ll_ucoco_384.onnx"
    from dwpose_core.hub import registry

    downloadable = {s.filename for s in registry.specs("pose") if s.downloadable}
    assert downloadable <= set(poses)
    assert not any("torchscript" in n for n in detectors + poses)  # unsupported files are not offered


# ------------------------------------------------------------------------------ estimator

def test_estimator_recovers_oracle_keypoints_from_a_comfy_batch(nodes, env):
    out = run_estimator(nodes, comfy_batch(2))
    images, pose_keypoint, _boxes = out["result"]
    assert len(pose_keypoint) == 2
    expected = expected_fixed_points(BOX_FRAME, POSE_HW)
    for frame in pose_keypoint:
        assert (frame["canvas_width"], frame["canvas_height"]) == (320, 240)
        (person,) = frame["people"]
        wb = wholebody(person)
        np.testing.assert_allclose(wb[3:, :2], expected, atol=1e-3)
        assert person["box_2d"][:4] == pytest.approx(BOX_FRAME, abs=1e-3)
    # resolution 512 = short side: 240 -> 512, 320 -> 320 * 512 / 240 = 682.7 -> nearest multiple of 8 = 680
    assert tuple(images.shape) == (2, 512, 680, 3)
    assert images.dtype == torch.float32 and 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert float(images.max()) > 0  # something was drawn
    assert env["utils"].UPDATES[-1] == ("7", 2, 2)


def test_estimator_resolution_zero_keeps_the_frame_size(nodes):
    images, _, _ = run_estimator(nodes, comfy_batch(1), resolution=0)["result"]
    assert tuple(images.shape) == (1, 240, 320, 3)


def test_disabled_parts_are_absent_everywhere(nodes):
    _, pose_keypoint, _ = run_estimator(nodes, comfy_batch(1), detect_face="disable", detect_feet="disable")["result"]
    (person,) = pose_keypoint[0]["people"]
    assert person["face_keypoints_2d"] == [0.0] * 210  # absent, never null (ComfyUI core's drawer)
    assert "face" not in person["parts"] and "feet" not in person["parts"]
    wb = wholebody(person)
    assert not wb[23:91].any() and not wb[17:23].any()
    assert wb[91:133, 2].max() > 0


def test_empty_batch_is_a_clear_error(nodes):
    with pytest.raises(ValueError, match="empty"):
        run_estimator(nodes, torch.zeros((0, 64, 64, 3)))


def test_alpha_and_masks_follow_the_core_rule(env):
    convert = _node_module(env, "convert")
    rng = np.random.default_rng(0)
    rgba = rng.random((2, 5, 7, 4)).astype(np.float32)
    frames = convert.image_batch_to_frames(torch.from_numpy(rgba), "test")
    # RGBA over white: rgb * a + 1 * (1 - a), in 0..255 (REFERENCE: the annotators' HWC3)
    rgb255 = np.round(rgba[..., :3] * 255)
    a = np.round(rgba[..., 3:] * 255) / 255
    expected = np.round(rgb255 * a + 255 * (1 - a))
    np.testing.assert_array_equal(np.stack(frames), expected.astype(np.uint8))
    mask = rng.random((3, 4, 6)).astype(np.float32)  # a MASK (B, H, W): grayscale frames
    gray = convert.image_batch_to_frames(torch.from_numpy(mask), "test")
    assert len(gray) == 3 and gray[0].shape == (4, 6, 3)
    np.testing.assert_array_equal(gray[1][..., 0], np.round(mask[1] * 255).astype(np.uint8))
    np.testing.assert_array_equal(gray[1][..., 0], gray[1][..., 2])


def test_interrupt_stops_between_chunks(nodes, env, monkeypatch):
    cu, mm = env["utils"], env["mm"]
    original = cu.ProgressBar.update_absolute

    def update_then_cancel(self, value, total=None, preview=None):
        original(self, value, total, preview)
        mm.interrupt_current_processing(True)  # the user presses Cancel during the first chunk

    monkeypatch.setattr(cu.ProgressBar, "update_absolute", update_then_cancel)
    with pytest.raises(mm.InterruptProcessingException):
        run_estimator(nodes, comfy_batch(20, hw=(48, 64)), resolution=0)
    assert cu.UPDATES == [("7", 16, 20)]  # one chunk of 16 frames, then stopped


def test_models_are_cached_and_only_what_changed_reloads(nodes, env):
    cache = _node_module(env, "model_cache")
    from dwpose_core import backends
    from dwpose_core.estimator_pool import POOL

    cache.release_everything()  # no other node holds these models
    run_estimator(nodes, comfy_batch(1), unique_id="cache")
    first = POOL._held["estimator:cache"][1]
    run_estimator(nodes, comfy_batch(1), unique_id="cache")
    assert POOL._held["estimator:cache"][1] is first  # same widgets: same estimator
    old_detector, old_pose = first.models
    run_estimator(nodes, comfy_batch(1), unique_id="cache", bbox_detector="none")
    second = POOL._held["estimator:cache"][1]
    assert second is not first and second.detector is None
    assert second.models == [old_pose]  # the pose model did not reload
    assert all(m is not old_detector for m in backends._cache.values())  # the unused detector was freed
    run_estimator(nodes, comfy_batch(1), unique_id="other")  # another node using the detector...
    shared = POOL._held["estimator:other"][1].models[0]
    run_estimator(nodes, comfy_batch(1), unique_id="cache", bbox_detector="oracle_det.onnx")
    run_estimator(nodes, comfy_batch(1), unique_id="cache", bbox_detector="none")
    assert any(m is shared for m in backends._cache.values())  # ...keeps it loaded


def test_comfy_unload_releases_our_models(nodes, env):
    from dwpose_core import backends
    from dwpose_core.estimator_pool import POOL

    run_estimator(nodes, comfy_batch(1), unique_id="unload")
    assert len(POOL) > 0 and backends._cache
    env["mm"].unload_all_models()  # what ComfyUI's "Unload models" / "Free memory" calls
    assert ("unload_all_models",) in env["mm"].CALLS  # ComfyUI's own unload still ran
    assert len(POOL) == 0 and not backends._cache
    _, pose_keypoint, _ = run_estimator(nodes, comfy_batch(1), unique_id="unload")["result"]  # reloads on demand
    assert len(pose_keypoint[0]["people"]) == 1


def test_device_comes_from_comfy_and_gpu_memory_is_requested(nodes, env, monkeypatch):
    mm = env["mm"]
    monkeypatch.setattr(mm, "DEVICE", mm._Device("cuda:0"))
    run_estimator(nodes, comfy_batch(1), unique_id="gpu")
    from dwpose_core.estimator_pool import POOL

    spec = POOL.setup_of("estimator:gpu")
    assert spec.device == "cuda:0"
    sizes = sum(os.path.getsize(env["models"] / f) for f in ("oracle_det.onnx", "oracle_pose.onnx"))
    (call,) = [c for c in mm.CALLS if c[0] == "free_memory"]
    assert call[2] == "cuda:0" and call[1] >= 2 * sizes


def test_torch_networks_go_through_comfy_model_management(nodes, env):
    bridge = _node_module(env, "comfy_bridge")

    class FakeTorchModel:  # what the torch backend exposes: the nn.Module and its device
        def __init__(self):
            self.net, self.device = torch.nn.Linear(2, 2), "cuda:0"

    class FakeOrtModel:
        device = None

    model = FakeTorchModel()
    assert bridge.manage_torch_models([FakeOrtModel()]) is False  # ONNX Runtime: nothing to hand over
    assert bridge.manage_torch_models([FakeOrtModel(), model]) is True
    bridge.manage_torch_models([model])
    calls = [c for c in env["mm"].CALLS if c[0] == "load_models_gpu"]
    assert len(calls) == 2 and all(c[2] for c in calls)  # force_full_load, like ComfyUI's upscale models
    (first,), (second,) = calls[0][1], calls[1][1]
    assert first is second and first.model is model.net and first.load_device == "cuda:0"  # one patcher
    model.net = torch.nn.Linear(2, 2)  # reloaded network: a new patcher
    bridge.manage_torch_models([model])
    assert env["mm"].CALLS[-1][1][0].model is model.net


def test_model_loader_feeds_estimators(nodes):
    (model,) = loader.run(nodes["DWPoseModelLoader"], "oracle_det.onnx", "oracle_pose.onnx", "onnxruntime",
                                                       "fp32", "cpu", unique_id="L")["result"]
    assert model.spec.device == "cpu"
    # with a DWPOSE_MODEL connected, the estimator's own model widgets are ignored
    _, pose_keypoint, _ = run_estimator(nodes, comfy_batch(1), dwpose_model=model, bbox_detector="none",
                                     pose_estimator="not-a-model.onnx")["result"]
    assert pose_keypoint[0]["people"][0]["box_2d"][:4] == pytest.approx(BOX_FRAME, abs=1e-3)


def test_missing_model_error_says_what_to_do(nodes):
    with pytest.raises(FileNotFoundError) as err:
        run_estimator(nodes, comfy_batch(1), pose_estimator="no_such_pose.onnx", unique_id="missing")
    assert "no_such_pose.onnx" in str(err.value)


def test_boxes_from_another_node_are_the_people_and_come_back_out(nodes):
    given = [[{"x": 50, "y": 30, "width": 120, "height": 150}]]
    _, pose_keypoint, boxes = run_estimator(nodes, comfy_batch(2), bboxes=given, unique_id="boxes")["result"]
    for frame in pose_keypoint:  # the detector did not run: its box would be BOX_FRAME
        (person,) = frame["people"]
        assert person["box_2d"][:4] == pytest.approx([50, 30, 170, 180], abs=1e-3)
    assert boxes == [[{"x": 50, "y": 30, "width": 120, "height": 150}]] * 2
    _, _, own = run_estimator(nodes, comfy_batch(1), unique_id="boxes")["result"]
    x1, y1, x2, y2 = BOX_FRAME
    assert own == [[{"x": round(x1), "y": round(y1), "width": round(x2 - x1), "height": round(y2 - y1)}]]


def test_video_options_reach_the_core(nodes):
    _, tracked, _ = run_estimator(nodes, comfy_batch(4), tracking=True, detect_every=2)["result"]
    assert len({p["track_id"] for f in tracked for p in f["people"]}) == 1  # one person, one identity
    boxes = [f["people"][0]["box_2d"][:4] for f in tracked]
    # the detector ran on frames 0 and 2 only; frames 1 and 3 got boxes from the previous keypoints
    assert boxes[0] == pytest.approx(BOX_FRAME, abs=1e-3) and boxes[2] == pytest.approx(BOX_FRAME, abs=1e-3)
    assert boxes[1] != pytest.approx(BOX_FRAME, abs=1e-3) and boxes[3] != pytest.approx(BOX_FRAME, abs=1e-3)
    _, smoothed, _ = run_estimator(nodes, comfy_batch(4), smoothing=1.0)["result"]
    expected = expected_fixed_points(BOX_FRAME, POSE_HW)
    for frame in smoothed:  # a still person stays where it is
        np.testing.assert_allclose(wholebody(frame["people"][0])[3:, :2], expected, atol=1e-3)


def test_ui_output_carries_summary_and_json_for_short_clips(nodes):
    out = run_estimator(nodes, comfy_batch(2))
    (summary,) = out["ui"]["dwpose"]
    assert summary["frames"] == 2
    assert summary["counts"] == [[1, 1, 1, 1, 1]] * 2  # one person showing body, hands, face, feet
    assert summary["pose_keypoint"] == out["result"][1]
    assert [p["frame"] for p in summary["previews"]] == [0, 1]
    json.dumps(out["ui"])  # must survive ComfyUI's websocket / history


def test_ui_output_of_long_clips_is_a_per_frame_summary(nodes):
    out = run_estimator(nodes, comfy_batch(20, hw=(48, 64)), resolution=0, unique_id="long")
    (summary,) = out["ui"]["dwpose"]
    assert "pose_keypoint" not in summary
    assert len(summary["counts"]) == 20
    assert 1 < len(summary["previews"]) <= 8
    assert summary["previews"][0]["frame"] == 0 and summary["previews"][-1]["frame"] == 19


# ------------------------------------------------------------------------------ POSE_KEYPOINT nodes

def pose_frame(points, width=320, height=240, **extra):
    """A plain OpenPose frame: {OpenPose-18 index: (x, y)} for one person."""
    body = [0.0] * 54
    for i, (x, y) in points.items():
        body[3 * i:3 * i + 3] = [x, y, 1.0]
    person = {"pose_keypoints_2d": body, "face_keypoints_2d": None, "hand_left_keypoints_2d": None,
              "hand_right_keypoints_2d": None, **extra}
    return {"people": [person], "canvas_width": width, "canvas_height": height}


OPENPOSE_COLORS = [(255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0)]


def test_render_draws_joints_in_openpose_colours(nodes):
    frame = pose_frame({2: (40, 40), 5: (200, 40)})  # right and left shoulder; the neck is their midpoint
    (images,) = loader.run(nodes["DWPoseRender"], [frame, frame], resolution=0)["result"]
    assert tuple(images.shape) == (2, 240, 320, 3)
    pixels = np.round(images[0].numpy() * 255).astype(int)
    assert tuple(pixels[40, 40]) == OPENPOSE_COLORS[2]
    assert tuple(pixels[40, 200]) == OPENPOSE_COLORS[5]
    assert tuple(pixels[40, 120]) == OPENPOSE_COLORS[1]  # neck
    assert tuple(pixels[200, 300]) == (0, 0, 0)


def test_render_uses_one_size_for_the_batch(nodes):
    frames = [pose_frame({2: (40, 40)}), pose_frame({2: (10, 10)}, width=100, height=50)]
    (images,) = loader.run(nodes["DWPoseRender"], frames, resolution=256)["result"]
    # first canvas 320x240, short side 256: 320 * 256 / 240 = 341.3 -> 344 (multiple of 8)
    assert tuple(images.shape) == (2, 256, 344, 3)


@pytest.mark.parametrize("bad, message", [
    ([], "no frames"),
    ([{"people": "nobody", "canvas_width": 10, "canvas_height": 10}], "people"),
    ("{not json", "JSON"),
])
def test_bad_pose_json_is_a_clear_error(nodes, bad, message):
    with pytest.raises(ValueError, match=message):
        loader.run(nodes["DWPoseRender"], bad, resolution=0)


def two_people():
    # the neck (1) is the shoulders' midpoint, as every OpenPose-18 writer makes it
    big = pose_frame({1: (120, 40), 2: (40, 40), 5: (200, 40), 8: (60, 200), 11: (180, 200)})["people"][0]
    small = pose_frame({1: (260, 100), 2: (250, 100), 5: (270, 100)})["people"][0]
    big["box_2d"] = [30, 30, 210, 210, 0.6]
    small["box_2d"] = [245, 95, 275, 110, 0.9]
    return [{"people": [small, big], "canvas_width": 320, "canvas_height": 240}]


def test_select_people_by_rule_index_and_part(nodes):
    def select(*args, **kwargs):
        return loader.run(nodes["DWPoseSelectPeople"], *args, **kwargs)["result"]

    (largest,) = select(two_people(), "largest")
    assert [p["box_2d"][4] for p in largest[0]["people"]] == [0.6]
    (confident,) = select(two_people(), "most_confident")
    assert [p["box_2d"][4] for p in confident[0]["people"]] == [0.9]
    (by_index,) = select(two_people(), "by_index", indices="1")
    assert [p["box_2d"][4] for p in by_index[0]["people"]] == [0.6]
    (no_body,) = select(two_people(), "all", body=False)
    assert all(p["pose_keypoints_2d"] == [0.0] * 54 and "body" not in p["parts"] for p in no_body[0]["people"])
    # null in (an old file's switched-off face): absent out, as zeros, never null
    assert all(p["face_keypoints_2d"] == [0.0] * 210 and "face" not in p["parts"] for p in no_body[0]["people"])
    with pytest.raises(ValueError, match="track"):
        select(two_people(), "by_track_id", indices="0")
    with pytest.raises(ValueError, match="whole number"):
        select(two_people(), "by_index", indices="first")


def jitter(frames, index):
    xy = np.array([wholebody(f["people"][0])[index, :2] for f in frames])
    return np.abs(np.diff(xy, 2, axis=0)).mean()


def test_smooth_reduces_jitter_and_assigns_tracks(nodes):
    rng = np.random.default_rng(1)
    frames = []
    for t in range(30):
        x = 100 + 2 * t + rng.normal(0, 3)  # steady walk plus noise
        y = 120 + rng.normal(0, 3)
        frames.append(pose_frame({2: (x, y), 5: (x + 60, y), 8: (x, y + 80), 11: (x + 60, y + 80)}))
    (smoothed,) = loader.run(nodes["DWPoseSmooth"], frames, strength=1.0)["result"]
    assert all(f["people"][0].get("track_id") is not None for f in smoothed)
    right_shoulder = 6  # COCO index
    assert jitter(smoothed, right_shoulder) < 0.4 * jitter(frames_with_wholebody(nodes, frames), right_shoulder)
    (unchanged,) = loader.run(nodes["DWPoseSmooth"], frames, strength=0.0)["result"]
    np.testing.assert_allclose(wholebody(unchanged[5]["people"][0])[6, :2],
                               frames[5]["people"][0]["pose_keypoints_2d"][6:8])


def frames_with_wholebody(nodes, frames):
    (same,) = loader.run(nodes["DWPoseSelectPeople"], frames, "all")["result"]
    return same


def test_save_and_load_json_round_trip(nodes, env, tmp_path):
    fp = env["fp"]
    out = loader.run(nodes["DWPoseSaveJSON"], two_people(), "poses/test")
    (saved,) = out["ui"]["files"]
    path = Path(fp.get_output_directory()) / saved["subfolder"] / saved["filename"]
    assert json.loads(path.read_text(encoding="utf-8")) == two_people()
    per_frame = loader.run(nodes["DWPoseSaveJSON"], two_people() * 3, "poses/frames", one_file_per_frame=True)
    assert len(per_frame["ui"]["files"]) == 3

    target = Path(fp.get_input_directory()) / "clips" / "pose.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(path.read_bytes())
    load = nodes["DWPoseLoadJSON"]
    assert "clips/pose.json" in load.INPUT_TYPES()["required"]["json_file"][1]["options"]
    assert loader.validate(load, json_file="clips/pose.json") is True
    assert loader.validate(load, json_file="clips/missing.json") is not True
    first = loader.fingerprint(load, json_file="clips/pose.json")
    assert first == hashlib.sha256(target.read_bytes()).hexdigest()
    (loaded,) = loader.run(load, "clips/pose.json")["result"]
    assert [p["box_2d"] for p in loaded[0]["people"]] == [p["box_2d"] for p in two_people()[0]["people"]]
    assert loaded[0]["people"][1]["pose_keypoints_2d"] == two_people()[0]["people"][1]["pose_keypoints_2d"]
    target.write_text(json.dumps(two_people()[:1] * 2), encoding="utf-8")
    assert loader.fingerprint(load, json_file="clips/pose.json") != first  # content changed: ComfyUI re-runs the node


def test_load_json_rejects_bad_files_clearly(nodes, env):
    bad = Path(env["fp"].get_input_directory()) / "bad.json"
    bad.write_text('[{"people": [{"pose_keypoints_2d": [1, 2]}], "canvas_width": 8, "canvas_height": 8}]')
    with pytest.raises(ValueError, match="pose_keypoints_2d"):
        loader.run(nodes["DWPoseLoadJSON"], "bad.json")
    plain = Path(env["fp"].get_input_directory()) / "plain.json"
    plain.write_text(json.dumps({"people": two_people()[0]["people"]}))  # OpenPose output: no canvas
    with pytest.raises(ValueError, match="canvas"):
        loader.run(nodes["DWPoseLoadJSON"], "plain.json")
    (loaded,) = loader.run(nodes["DWPoseLoadJSON"], "plain.json", canvas_width=320, canvas_height=240)["result"]
    assert (loaded[0]["canvas_width"], loaded[0]["canvas_height"]) == (320, 240)


# ------------------------------------------------------------------------------ presets, hand pass

def test_a_preset_sets_detector_size_and_pose_from_the_cores_table(env):
    from dwpose_core.hub.presets import PRESETS

    setup = _node_module(env, "estimator")._setup
    for name, preset in PRESETS.items():
        got = setup("oracle_det.onnx", "oracle_pose.onnx", "onnxruntime", preset=name)
        assert (got.detector, got.det_size, got.pose) == (preset.detector, preset.det_size, preset.pose), name
    custom = setup("oracle_det.onnx", "oracle_pose.onnx", "onnxruntime", det_size=416, preset="custom")
    assert custom.det_size == 416 and custom.detector.endswith("oracle_det.onnx")
    assert custom.refine_hands is None


def test_refine_hands_names_the_hand_model_and_off_is_none(env):
    from dwpose_core.hub.registry import hand_model_names

    setup = _node_module(env, "estimator")._setup
    hand = hand_model_names()[0]
    assert setup("oracle_det.onnx", "oracle_pose.onnx", refine_hands=hand).refine_hands == hand
    assert setup("oracle_det.onnx", "oracle_pose.onnx", refine_hands="off").refine_hands is None


def test_refine_hands_is_validated_like_the_model_combos(nodes):
    cls = nodes["DWPoseEstimator"]
    assert "not a hand model" in cls.validate_inputs(refine_hands="nonsense.onnx")
    pth = next(n for n in _hand_names() if n.endswith(".pth"))
    assert "torch checkpoint" in cls.validate_inputs(backend="onnxruntime", refine_hands=pth)
    assert cls.validate_inputs(backend="torch", refine_hands=pth) is True


def _hand_names():
    from dwpose_core.hub.registry import hand_model_names

    return hand_model_names()


def test_model_downloads_report_to_comfys_progress_bar(nodes, env):
    from dwpose_core.hub import download

    assert download._progress_factory is not None  # set when ComfyUI loaded the pack (setup)
    bar = download._progress_factory(1000, "yolox_l.onnx")
    bar.update(400)
    bar.update(600)
    assert env["utils"].UPDATES[-2:] == [(None, 400, 1000), (None, 1000, 1000)]
    download.set_progress_factory(None)  # the other tests' downloads show tqdm again
