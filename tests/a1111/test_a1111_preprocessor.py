"""The A1111 preprocessors against the stand-in registries, in this process.

The stand-ins (tests/a1111_stubs) follow sd-webui-controlnet's and Forge's documented
registry behaviour; the oracle models make the detected pose known in advance.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import a1111_dwpose
from a1111_dwpose import registry, runner
from a1111_stubs.scene import (NOSE_RGB, ROOT, STUBS, Scene, build_models, frame_box, output_pixel)

FULL, BODY_HANDS = "dwpose_openpose_full", "dwpose_openpose_body_hands"
HOST_PREFIXES = ("modules", "scripts", "annotator", "modules_forge")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_models(tmp_path_factory.mktemp("a1111_models"))


@pytest.fixture(scope="module")
def scene():
    return Scene()


@pytest.fixture
def webui(monkeypatch, tmp_path, models):
    """A fresh fake A1111 process state: stand-in ``modules`` loaded, nothing registered yet."""
    monkeypatch.setenv("STUB_WEBUI_DATA", str(tmp_path / "webui"))
    monkeypatch.setenv("DWPOSE_A1111_BACKEND", "onnxruntime")
    monkeypatch.setenv("DWPOSE_A1111_DETECTOR", str(models[0]))
    monkeypatch.setenv("DWPOSE_A1111_POSE", str(models[1]))
    monkeypatch.setattr(registry, "_cache", None)
    monkeypatch.setattr(registry, "_classes", {})
    monkeypatch.setattr(registry, "_conflicts_reported", set())
    monkeypatch.setattr(a1111_dwpose, "_absent_reported", False)
    saved_path = list(sys.path)
    _drop_host_modules()
    sys.path.insert(0, str(STUBS / "webui"))
    import modules.devices  # noqa: F401  (A1111 has these loaded before extensions)
    import modules.paths  # noqa: F401
    import modules.script_callbacks
    import modules.shared

    # ControlNet's annotator folder (its setting) in tmp, never inside the stand-in's tree
    modules.shared.opts.data["control_net_modules_path"] = str(tmp_path / "cn_annotators")
    try:
        yield modules.script_callbacks
    finally:
        cache = registry._cache
        if cache is not None:
            cache.release_all()
        from dwpose_core import hub

        hub.unregister_host_dirs("a1111")  # the hook is process-wide; leave no trace for other tests
        _drop_host_modules()
        sys.path[:] = saved_path


def _drop_host_modules():
    for name in list(sys.modules):
        if name.split(".")[0] in HOST_PREFIXES:
            del sys.modules[name]


def load_controlnet():
    """Import the stand-in registry the way sd-webui-controlnet's script does (``scripts.*``)."""
    sys.path.insert(0, str(STUBS / "sd-webui-controlnet"))
    try:
        import scripts.controlnet  # noqa: F401  (registers the built-ins)
    finally:
        sys.path.remove(str(STUBS / "sd-webui-controlnet"))
    return sys.modules["scripts.supported_preprocessor"].Preprocessor


def load_forge():
    sys.path.insert(0, str(STUBS / "forge"))
    import modules_forge.shared
    import modules_forge.supported_preprocessor  # noqa: F401
    return modules_forge.shared


def controlnet_kwargs(callback=None):
    """What sd-webui-controlnet's UI preview passes besides image and resolution."""
    return dict(slider_1=0.5, slider_2=0.5, low_vram=False, json_pose_callback=callback, model="control_openpose")


# ----------------------------------------------------------------------------- registration

def test_both_variants_are_registered_with_openpose_in_name_and_label(webui):
    base = load_controlnet()
    assert a1111_dwpose.setup(ROOT) is True
    for name in (FULL, BODY_HANDS):
        p = base.get_preprocessor(name)
        assert p is not None and base.get_preprocessor(p.label) is p
        assert "openpose" in p.name and "openpose" in p.label  # ControlNet's check is case-sensitive
        assert p.tags == ["OpenPose"]
        assert p in base.get_filtered_preprocessors("OpenPose")
    labels = [p.label for p in base.all_processors.values()]
    assert len(labels) == len(set(labels)) and base.get_preprocessor("dw_openpose_full").label == "dw_openpose_full"


def test_registration_is_idempotent(webui):
    base = load_controlnet()
    a1111_dwpose.setup(ROOT)
    first = dict(base.all_processors_by_name)
    a1111_dwpose.setup(ROOT)  # "Reload UI" re-runs our script
    webui.before_ui_callback()
    assert registry.ensure_registered() is True
    assert base.all_processors_by_name == first
    assert all(base.all_processors_by_name[n] is first[n] for n in first)


def test_controlnet_loaded_after_us_is_served_before_the_ui(webui, capsys):
    a1111_dwpose.setup(ROOT)  # our script ran first: no registry yet
    base = load_controlnet()
    assert base.get_preprocessor(FULL) is None
    webui.before_ui_callback()
    assert base.get_preprocessor(FULL) is not None and base.get_preprocessor(BODY_HANDS) is not None
    assert "[DWPose]" not in capsys.readouterr().out


def test_a_name_taken_by_another_preprocessor_is_one_line_not_a_crash(webui, capsys):
    base = load_controlnet()

    class Squatter(base):
        def __call__(self, input_image, resolution, slider_1=None, slider_2=None, slider_3=None,
                     input_mask=None, **kwargs):
            return input_image

    base.add_supported_preprocessor(Squatter(name=FULL))
    base.add_supported_preprocessor(Squatter(name="x", _label="dwpose_openpose_body_hands (DWPose extension)"))
    a1111_dwpose.setup(ROOT)
    webui.before_ui_callback()
    out = capsys.readouterr().out
    assert out.count("[DWPose]") == 2 and FULL in out and BODY_HANDS in out  # no "registry missing" line
    assert type(base.get_preprocessor(FULL)) is Squatter
    assert base.get_preprocessor(BODY_HANDS) is None


def test_a_half_registration_is_reported_not_raised(webui, capsys):
    base = load_controlnet()
    a1111_dwpose.setup(ROOT)
    # someone removed our label entry but not the name entry
    del base.all_processors[base.get_preprocessor(FULL).label]
    registry.ensure_registered()
    assert base.get_preprocessor(BODY_HANDS) is not None
    assert capsys.readouterr().out.count("[DWPose]") == 1


def test_no_registry_gives_exactly_one_line(webui, capsys):
    a1111_dwpose.setup(ROOT)
    webui.before_ui_callback()
    webui.clear_callbacks()  # "Reload UI"
    a1111_dwpose.setup(ROOT)
    webui.before_ui_callback()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[DWPose]")]
    assert len(lines) == 1 and "sd-webui-controlnet" in lines[0]


def test_an_old_controlnet_without_the_registry_is_named(webui, capsys, monkeypatch):
    import types

    monkeypatch.setitem(sys.modules, "scripts.global_state", types.ModuleType("scripts.global_state"))
    a1111_dwpose.setup(ROOT)
    webui.before_ui_callback()
    out = capsys.readouterr().out
    assert out.count("[DWPose]") == 1 and "update" in out


def test_forge_registry_gets_the_variants_by_name(webui, scene, capsys):
    shared = load_forge()
    a1111_dwpose.setup(ROOT)
    webui.before_ui_callback()
    a1111_dwpose.setup(ROOT)
    for name in (FULL, BODY_HANDS):
        p = shared.supported_preprocessors[name]
        assert p.name == name and p.tags == ["OpenPose"] and p.model_filename_filters == ["openpose"]
    # Forge's UI calls with keywords only
    out = shared.supported_preprocessors[FULL](input_image=scene.image, input_mask=None, resolution=512,
                                               slider_1=None, slider_2=None)
    assert out.dtype == np.uint8 and min(out.shape[:2]) == 512
    assert "[DWPose]" not in capsys.readouterr().out


# ----------------------------------------------------------------------------- behaviour

@pytest.fixture
def controlnet(webui):
    base = load_controlnet()
    a1111_dwpose.setup(ROOT)
    return base


@pytest.mark.parametrize("frame_hw, resolution", [((360, 480), 512), ((360, 480), 256), ((640, 400), 768)])
def test_call_returns_the_map_at_the_requested_resolution(controlnet, frame_hw, resolution):
    image = np.zeros((*frame_hw, 3), np.uint8)
    out = controlnet.get_preprocessor(FULL)(image, resolution, **controlnet_kwargs())
    h, w = frame_hw
    short, long_ = min(h, w), max(h, w)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert min(out.shape[:2]) == resolution
    assert out.shape[0] % 8 == 0 and out.shape[1] % 8 == 0
    assert abs(max(out.shape[:2]) - long_ * resolution / short) <= 4
    assert (out.shape[0] > out.shape[1]) == (h > w)


def test_callback_gets_a_json_safe_pose_readable_back(controlnet, scene):
    from dwpose_core.formats.pose_json import from_pose_keypoint

    got = []
    controlnet.get_preprocessor(FULL)(scene.image, 512, **controlnet_kwargs(got.append))
    assert len(got) == 1
    payload = json.loads(json.dumps(got[0]))  # what ControlNet's UI does with it
    assert payload["canvas_width"] == scene.image.shape[1] and payload["canvas_height"] == scene.image.shape[0]
    frame = from_pose_keypoint(payload)[0]
    assert len(frame.people) == 1
    person = frame.people[0]
    kept = np.r_[3:17, 23:133]  # feet are off in the ControlNet variants: absent (0) in the JSON
    np.testing.assert_allclose(person.keypoints[kept], scene.fixed[kept - 3], atol=1e-3)
    np.testing.assert_allclose(person.scores[kept], 1.0)
    assert not person.scores[17:23].any()
    for k, planted in enumerate((scene.nose, scene.left_eye, scene.right_eye)):
        assert np.hypot(*(person.keypoints[k] - planted)) <= scene.marker_tolerance()
    np.testing.assert_allclose(person.box, frame_box(), atol=1e-3)
    assert payload["people"][0]["face_keypoints_2d"] is not None


def test_image_draws_the_reported_pose_with_the_nose_in_place(controlnet, scene):
    from dwpose_core.formats.pose_json import from_pose_keypoint
    from dwpose_core.render.draw import draw_pose

    got = []
    out = controlnet.get_preprocessor(FULL)(scene.image, 512, **controlnet_kwargs(got.append))
    h, w = scene.image.shape[:2]
    x, y = output_pixel(*scene.nose, (w, h), (out.shape[1], out.shape[0]))
    assert tuple(out[y, x]) == NOSE_RGB
    expected = draw_pose(from_pose_keypoint(got[0])[0], resolution=512, hands=True, face=True)
    np.testing.assert_array_equal(out, expected)


def test_body_hands_variant_leaves_the_face_out(controlnet, scene):
    full_json, bh_json = [], []
    full = controlnet.get_preprocessor(FULL)(scene.image, 512, **controlnet_kwargs(full_json.append))
    body_hands = controlnet.get_preprocessor(BODY_HANDS)(scene.image, 512, **controlnet_kwargs(bh_json.append))
    white = np.array([255, 255, 255], np.uint8)
    assert (full == white).all(axis=2).any()  # face points are the only white marks
    assert not (body_hands == white).all(axis=2).any()
    person = bh_json[0]["people"][0]
    assert not any(person["face_keypoints_2d"])  # absent: all zeros, never null
    assert any(person["hand_left_keypoints_2d"]) and any(person["pose_keypoints_2d"])


def test_call_without_callback_and_through_cached_call(controlnet, scene):
    p = controlnet.get_preprocessor(BODY_HANDS)
    direct = p(scene.image, 512)
    result = p.cached_call(scene.image, resolution=512, slider_1=None, slider_2=None, low_vram=False)
    np.testing.assert_array_equal(result.value, direct)
    np.testing.assert_array_equal(result.display_images[0], direct)


def test_unload_frees_the_models_only_when_no_variant_uses_them(controlnet, scene):
    full, body_hands = controlnet.get_preprocessor(FULL), controlnet.get_preprocessor(BODY_HANDS)
    cache = registry.shared_cache()
    assert full.unload() is False  # nothing loaded yet
    full(scene.image, 512)
    assert cache.loaded
    controlnet.unload_unused({full})  # before a generation that uses `full`: body_hands.unload()
    assert cache.loaded
    assert full.unload() is True and not cache.loaded
    assert full.unload() is False
    full(scene.image, 512)
    body_hands(scene.image, 512)
    assert full.unload() is False and cache.loaded  # body_hands still uses the shared models
    assert body_hands.unload() is True and not cache.loaded


def test_unload_never_raises(controlnet, scene, monkeypatch):
    from dwpose_core.estimator_pool import POOL

    full = controlnet.get_preprocessor(FULL)
    full(scene.image, 256)
    estimator = POOL._held[f"a1111:{FULL}"][1]

    def broken_release():
        raise RuntimeError("driver went away")

    monkeypatch.setattr(estimator, "release", broken_release)
    assert full.unload() in (True, False)
    monkeypatch.setattr(registry.shared_cache(), "release", lambda user: 1 / 0)
    assert full.unload() is False


# ----------------------------------------------------------------------------- device and backend

class RecordingEstimator:
    calls: list = []

    def __init__(self, detector, pose, *, backend, device, **kwargs):
        from dwpose_core.backends import BackendError

        RecordingEstimator.calls.append((backend, device))
        if backend == "torch" and getattr(RecordingEstimator, "torch_fails", False):
            raise BackendError("this torch backend cannot run the file")

    def __call__(self, frames, **kwargs):
        from dwpose_core.types import FramePose

        return [FramePose(f.shape[1], f.shape[0]) for f in frames]

    def release(self):
        pass


@pytest.fixture
def recording(monkeypatch, webui):
    import dwpose_core.pipeline

    monkeypatch.setattr(dwpose_core.pipeline, "WholeBodyEstimator", RecordingEstimator)
    monkeypatch.setattr(RecordingEstimator, "calls", [])
    monkeypatch.setattr(RecordingEstimator, "torch_fails", False, raising=False)
    monkeypatch.delenv("DWPOSE_A1111_BACKEND")
    sys.modules["modules.devices"].task_devices["controlnet"] = "cuda:1"
    return RecordingEstimator


def test_the_core_gets_backend_auto_on_a1111s_controlnet_device(recording):
    runner.A1111Models().estimate("x", np.zeros((8, 8, 3), np.uint8))
    assert recording.calls == [("auto", "cuda:1")]


def test_the_backend_setting_reaches_the_core_as_it_is(recording, monkeypatch):
    monkeypatch.setenv("DWPOSE_A1111_BACKEND", "onnxruntime")
    runner.A1111Models().estimate("y", np.zeros((8, 8, 3), np.uint8))
    assert recording.calls == [("onnxruntime", "cuda:1")]


def test_device_falls_back_to_devices_device(webui, monkeypatch):
    from a1111_dwpose import host

    devices = sys.modules["modules.devices"]
    monkeypatch.delattr(devices, "get_device_for")
    monkeypatch.setattr(devices, "device", "mps")
    assert host.torch_device() == "mps"


# ----------------------------------------------------------------------------- model folders

def test_model_folders_are_the_ones_a1111_users_have(controlnet, tmp_path, monkeypatch):
    from a1111_dwpose import host

    dirs = host.model_dirs()
    annotator = sys.modules["annotator.annotator_path"].models_path
    assert dirs[0] == Path(annotator) / "openpose"
    assert Path(sys.modules["modules.paths"].models_path) / "openpose" in dirs
    assert host.download_dir() == dirs[0]
    # ControlNet's setting moves its annotator folder; a relative one is under the data path
    sys.modules["modules.shared"].opts.data["control_net_modules_path"] = "elsewhere"
    data = sys.modules["modules.shared"].data_path
    assert Path(data) / "elsewhere" / "openpose" in host.model_dirs()


def test_models_in_controlnets_openpose_folder_are_found_by_name(controlnet, models, monkeypatch, scene, tmp_path):
    from dwpose_core.hub import locate

    folder = Path(sys.modules["annotator.annotator_path"].models_path) / "openpose"
    folder.mkdir(parents=True)
    shutil.copy(models[0], folder / "yolox_l.onnx")
    shutil.copy(models[1], folder / "dw-ll_ucoco.onnx")
    # only the A1111 folders may hold these files: not our ckpts/, $DWPOSE_CKPTS_DIR or the HF cache
    monkeypatch.setattr(locate, "ckpts_dir", lambda: tmp_path / "no_ckpts")
    monkeypatch.delenv("DWPOSE_CKPTS_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no_hf_cache"))
    cache = registry.shared_cache()
    cache.configure(detector="yolox_l.onnx", pose="dw-ll_ucoco.onnx")
    try:
        got = []
        controlnet.get_preprocessor(FULL)(scene.image, 512, json_pose_callback=got.append)
        np.testing.assert_allclose(got[0]["people"][0]["box_2d"][:4], frame_box(), atol=1e-3)
        from dwpose_core.estimator_pool import POOL

        assert POOL._held[f"a1111:{FULL}"][1].pose.model.path.parent == folder.resolve()
    finally:
        cache.release_all()
