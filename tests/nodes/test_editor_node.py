"""The DWPose Editor node, loaded the way ComfyUI loads the pack: stored edits re-applied to a
changed input, the files the browser editor opens, and its widgets."""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("comfy_stub_loader", ROOT / "tests" / "comfy_stubs" / "loader.py")
loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loader)

W, H = 320, 240


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    pack, _root = loader.pack_for_tests(tmp_path_factory.mktemp("comfy"))
    if not loader.use_stubs():
        pytest.skip("ComfyUI itself is importable; these tests drive the stand-ins")
    return pack


def person(x0, track_id=None, y0=50.0):
    from dwpose_core.types import Person

    j = np.arange(133)
    kp = np.stack([x0 + j % 10, y0 + (j // 10) * 2.0], axis=1)
    return Person(kp, np.full(133, 0.8), [x0, y0, x0 + 10, y0 + 30], 0.9, track_id)


def pose_keypoint(frames_people):
    from dwpose_core.formats.pose_json import to_pose_keypoint
    from dwpose_core.types import FramePose

    return to_pose_keypoint([FramePose(W, H, people) for people in frames_people])


def wholebody(frame, i):
    return np.asarray(frame["people"][i]["wholebody_keypoints_2d"], dtype=np.float64).reshape(133, 3)


def run(pack, pk, edits="", image=None):
    return loader.run(loader.node_classes(pack)["DWPoseEditor"], pk, edits=edits, image=image, unique_id="12")


def test_the_node_is_registered_with_edits_as_a_widget_after_the_pose_input(pack):
    cls = loader.node_classes(pack)["DWPoseEditor"]
    assert cls.GET_SCHEMA().display_name == "DWPose Editor"
    inputs = cls.INPUT_TYPES()
    assert list(inputs["required"]) == ["pose_keypoint", "edits"]
    assert inputs["required"]["edits"][0] == "STRING" and inputs["required"]["edits"][1]["default"] == ""
    assert inputs["optional"]["image"][0] == "IMAGE"
    assert list(cls.RETURN_TYPES) == ["POSE_KEYPOINT"]


def test_stored_edits_follow_track_id_and_point_when_the_input_changes(pack):
    edits = json.dumps({"version": 1, "added": {}, "keys": {
        "0": {"t5": {"pts": {"9": {"d": [7, -2]}}}},
        "2": {"t5": {"pts": {"9": {"d": [13, 4]}}}},
        "1": {"t1": {"del": 1}}}})
    first = pose_keypoint([[person(40.0, 1), person(200.0, 5)]] * 3)
    out = run(pack, first, edits)["result"][0]
    assert wholebody(out[0], 1)[9, :2].tolist() == pytest.approx([209 + 7, 50 - 2])
    # a new detection: the people swapped places in the list and track 5 walks right 10 px a frame
    changed = pose_keypoint([[person(100.0 + 10 * f, 5, y0=60.0), person(40.0, 1)] for f in range(3)])
    out = run(pack, changed, edits)["result"][0]
    for f, dx, dy in ((0, 7, -2), (1, 10, 1), (2, 13, 4)):
        assert out[f]["people"][0]["track_id"] == 5
        assert wholebody(out[f], 0)[9, :2].tolist() == pytest.approx([109 + 10 * f + dx, 60 + dy])
        assert wholebody(out[f], 0)[8, :2].tolist() == pytest.approx([108 + 10 * f, 60])  # unedited point
    assert [len(frame["people"]) for frame in out] == [2, 1, 2]  # track 1 deleted on frame 1 only
    assert out[1]["people"][0]["track_id"] == 5


def test_empty_edits_give_the_input_back(pack):
    pk = pose_keypoint([[person(40.0, 1)]])
    out = run(pack, pk, "")["result"][0]
    assert out[0]["people"][0]["wholebody_keypoints_2d"] == pk[0]["people"][0]["wholebody_keypoints_2d"]


def test_unreadable_edits_say_to_reset(pack):
    with pytest.raises(ValueError, match="Reset edits"):
        run(pack, pose_keypoint([[person(40.0)]]), "{broken")


def test_the_ui_output_points_at_the_input_poses_and_backdrops_in_the_temp_folder(pack):
    import folder_paths

    pk = pose_keypoint([[person(40.0, 3)], [person(60.0, 3), person(150.0, 4)]])
    image = torch.zeros((2, H, W, 3))
    image[1, :, :, 0] = 1.0  # frame 1 is red
    ui = run(pack, pk, json.dumps({"keys": {"0": {"t3": {"pts": {"0": {"d": [50, 0]}}}}}}), image)["ui"]
    data = ui["dwpose_editor"][0]
    assert (data["frames"], data["width"], data["height"]) == (2, W, H)
    temp = Path(folder_paths.get_temp_directory())
    poses = json.loads((temp / data["poses"]["subfolder"] / data["poses"]["filename"]).read_text())
    assert data["poses"]["type"] == "temp"
    assert [[p["id"] for p in f["people"]] for f in poses["frames"]] == [["t3"], ["t3", "t4"]]
    k = np.asarray(poses["frames"][1]["people"][1]["k"]).reshape(133, 3)
    assert k[12].tolist() == pytest.approx([152, 52, 0.8])  # the input, not the edited poses
    assert poses["frames"][0]["people"][0]["k"][0] == pytest.approx(40)
    import cv2

    assert len(data["backdrops"]) == 2
    red = cv2.imdecode(np.fromfile(temp / data["backdrops"][1]["subfolder"] / data["backdrops"][1]["filename"],
                                   np.uint8), cv2.IMREAD_COLOR)
    assert red.shape == (H, W, 3) and red[..., 2].mean() > 240 and red[..., :2].mean() < 15  # BGR on disk
    assert data["tables"]["threshold"] == 0.3 and len(data["tables"]["mirror"]) == 133
    json.dumps(ui)  # the UI message must be JSON


def test_a_long_clip_sends_files_not_the_poses_in_the_ui_message(pack):
    pk = pose_keypoint([[person(40.0 + f % 50, 1)] for f in range(300)])
    ui = run(pack, pk)["ui"]
    assert len(json.dumps(ui)) < 20_000
    assert ui["dwpose_editor"][0]["frames"] == 300
