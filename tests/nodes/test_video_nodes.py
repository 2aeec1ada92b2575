"""DWPose Retarget and DWPose Face Crops, loaded the way ComfyUI loads the pack (stand-ins for comfy),
driven with ComfyUI-shaped values; ground truth from the synthetic skeletons and the box rule."""
from __future__ import annotations

import sys

import importlib.util
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

from dwpose_core.formats.pose_json import to_pose_keypoint
from dwpose_core.types import FramePose
from oracles import make_detector, make_pose
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "animate"))  # the animate tests' scenes
from test_face_crops import expected_box, face_person  # noqa: E402
from test_retarget import REFERENCE, clip, reference_frame

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("comfy_stub_loader", ROOT / "tests" / "comfy_stubs" / "loader.py")
loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loader)

BOX = (40.0, 20.0, 200.0, 230.0)  # the oracle detector's person, in a 240x320 frame


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    pack, _root = loader.pack_for_tests(tmp_path_factory.mktemp("comfy"))
    if not loader.use_stubs():
        pytest.skip("ComfyUI itself is importable; these tests drive the stand-ins")
    import folder_paths

    models = Path(folder_paths.models_dir) / "dwpose"
    models.mkdir(parents=True, exist_ok=True)
    make_detector(models / "video_oracle_det.onnx", [tuple(np.array(BOX) * 2.0) + (0.9,)])
    make_pose(models / "video_oracle_pose.onnx")
    classes = loader.node_classes(pack)
    return {"nodes": classes, "names": loader.display_names(classes), "models": models}


def wholebody(person):
    return np.asarray(person["wholebody_keypoints_2d"], float).reshape(133, 3)


@pytest.mark.parametrize("name, title", [("DWPoseRetarget", "DWPose Retarget"),
                                         ("DWPoseFaceCrops", "DWPose Face Crops")])
def test_nodes_are_registered_and_declared_consistently(env, name, title):
    cls = env["nodes"][name]
    assert env["names"][name] == title
    assert cls.CATEGORY == "DWPose" and len(cls.RETURN_NAMES) == len(cls.RETURN_TYPES) == len(cls.OUTPUT_TOOLTIPS)
    spec = cls.INPUT_TYPES()
    params = inspect.signature(cls.execute).parameters  # V3: hidden inputs are not parameters (cls.hidden)
    declared = {**spec["required"], **spec.get("optional", {})}
    assert set(declared) == set(params)
    assert spec["hidden"] == {"unique_id": ("UNIQUE_ID",)}
    for section in ("required", "optional"):
        for input_name, (kind, *options) in spec.get(section, {}).items():
            assert options and options[0].get("tooltip"), f"{name}.{input_name} has no tooltip"
            if section == "optional" or input_name not in spec["required"]:
                assert params[input_name].default is not inspect.Parameter.empty


# ------------------------------------------------------------------------------ retarget

def test_retarget_node_takes_the_reference_pose_proportions(env):
    (out,) = loader.run(env["nodes"]["DWPoseRetarget"], to_pose_keypoint(clip(8)),
                        reference_pose=to_pose_keypoint([reference_frame()]))["result"]
    assert len(out) == 8 and (out[0]["canvas_width"], out[0]["canvas_height"]) == (720, 1280)
    for frame in out:
        kp = wholebody(frame["people"][0])[:, :2]
        assert np.linalg.norm(kp[9] - kp[7]) == pytest.approx(REFERENCE["forearm"], abs=1.0)
        assert np.linalg.norm(kp[15] - kp[13]) == pytest.approx(REFERENCE["shin"], abs=1.0)


def test_retarget_node_widgets_reach_the_core(env):
    from dwpose_core.formats.pose_json import from_pose_keypoint
    from dwpose_core.animate.retarget import retarget

    drive, ref = to_pose_keypoint(clip(6)), to_pose_keypoint([reference_frame()])
    (out,) = loader.run(env["nodes"]["DWPoseRetarget"], drive, reference_people="same", feet_on_ground=False,
                        length_quantile=0.7, max_ratio_spread=1.5, reference_pose=ref)["result"]
    want = retarget(from_pose_keypoint(drive), from_pose_keypoint(ref), reference_people="same", ground=False,
                    quantile=0.7, max_ratio_spread=1.5)
    np.testing.assert_allclose(wholebody(out[4]["people"][0])[:, :2], want[4].people[0].keypoints, atol=1e-3)


def test_retarget_node_runs_dwpose_on_a_reference_image(env):
    from dwpose_core.formats.pose_json import from_pose_keypoint
    from dwpose_core.pipeline import WholeBodyEstimator
    from dwpose_core.animate.retarget import retarget

    (model,) = loader.run(env["nodes"]["DWPoseModelLoader"], "video_oracle_det.onnx", "video_oracle_pose.onnx",
                          backend="onnxruntime", precision="fp32", device="cpu", unique_id="31")["result"]
    image = torch.zeros((2, 240, 320, 3))
    drive = to_pose_keypoint(clip(4))
    (out,) = loader.run(env["nodes"]["DWPoseRetarget"], drive, reference_image=image, dwpose_model=model,
                        unique_id="30")["result"]
    assert (out[0]["canvas_width"], out[0]["canvas_height"]) == (320, 240)
    models = env["models"]
    estimator = WholeBodyEstimator(str(models / "video_oracle_det.onnx"), str(models / "video_oracle_pose.onnx"),
                                   backend="onnxruntime")
    reference = estimator([np.zeros((240, 320, 3), np.uint8)])[0]
    want = retarget(from_pose_keypoint(drive), reference)
    np.testing.assert_allclose(wholebody(out[3]["people"][0])[:, :2], want[3].people[0].keypoints, atol=1e-3)


def test_retarget_node_without_a_reference_says_what_to_connect(env):
    with pytest.raises(ValueError, match="connect a reference_image or a reference_pose"):
        loader.run(env["nodes"]["DWPoseRetarget"], to_pose_keypoint(clip(2)))


def test_retarget_node_with_an_empty_reference_is_a_clear_error(env):
    with pytest.raises(ValueError, match="DWPose Retarget: the reference has no person"):
        loader.run(env["nodes"]["DWPoseRetarget"], to_pose_keypoint(clip(2)),
                                                  reference_pose=to_pose_keypoint([FramePose(64, 64)]))


# ------------------------------------------------------------------------------ face crops

W, H = 640, 480


def test_face_crops_node_outputs_crops_and_bounding_boxes(env):
    frames = [FramePose(W, H, [face_person(200, 150, 260, 230)]) for _ in range(3)]
    image = torch.zeros((3, H, W, 3))
    box = expected_box(200, 150, 260, 230).astype(int)
    image[:, box[1]:box[3], box[0]:box[2]] = torch.tensor([0.2, 0.6, 1.0])
    crops, boxes = loader.run(env["nodes"]["DWPoseFaceCrops"], image, to_pose_keypoint(frames), size=64, smoothing=0.0)["result"]
    assert tuple(crops.shape) == (3, 64, 64, 3) and crops.dtype == torch.float32
    np.testing.assert_allclose(crops.numpy(), np.broadcast_to([51 / 255, 153 / 255, 1.0], (3, 64, 64, 3)), atol=1e-6)
    want = {"x": int(box[0]), "y": int(box[1]), "width": int(box[2] - box[0]), "height": int(box[3] - box[1])}
    assert boxes == [[want]] * 3


def test_face_crops_node_puts_tracks_one_after_the_other(env):
    frames = [FramePose(W, H, [face_person(100, 100, 150, 170, track_id=0), face_person(400, 120, 460, 200,
                                                                                         track_id=1)])
              for _ in range(4)]
    node = env["nodes"]["DWPoseFaceCrops"]
    crops, boxes = loader.run(node, torch.zeros((4, H, W, 3)), to_pose_keypoint(frames), size=32,
                              smoothing=0.0)["result"]
    assert tuple(crops.shape) == (8, 32, 32, 3)
    assert len(boxes) == 4 and all(len(b) == 2 for b in boxes)
    assert boxes[0][1]["x"] == int(expected_box(400, 120, 460, 200)[0])
    crops, boxes = loader.run(node, torch.zeros((4, H, W, 3)), to_pose_keypoint(frames), size=32,
                              track_ids="1")["result"]
    assert tuple(crops.shape) == (4, 32, 32, 3) and all(len(b) == 1 for b in boxes)


def test_face_crops_node_errors_are_clear(env):
    node = env["nodes"]["DWPoseFaceCrops"]
    pose = to_pose_keypoint([FramePose(W, H, [face_person(1, 1, 50, 50)])] * 2)
    with pytest.raises(ValueError, match="3 images but 2 pose frames"):
        loader.run(node, torch.zeros((3, H, W, 3)), pose)
    with pytest.raises(ValueError, match="'x' in track_ids is not a whole number"):
        loader.run(node, torch.zeros((2, H, W, 3)), pose, track_ids="x")
    # ComfyUI asks before it queues: the same message, on the node, before anything runs
    assert "'x' in track_ids is not a whole number" in loader.validate(node, track_ids="x")
    assert loader.validate(node, track_ids="0, 2") is True


def test_face_crops_node_never_fails_on_frames_without_faces(env):
    pose = to_pose_keypoint([FramePose(W, H), FramePose(W, H)])
    crops, boxes = loader.run(env["nodes"]["DWPoseFaceCrops"], torch.zeros((2, H, W, 3)), pose, size=16)["result"]
    assert tuple(crops.shape) == (2, 16, 16, 3)
    assert boxes[0] == [{"x": 200, "y": 120, "width": 240, "height": 240}]
