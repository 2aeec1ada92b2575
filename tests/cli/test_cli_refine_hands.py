"""``--refine-hands [MODEL]`` on the main command and ``batch`` (oracle models, no weights)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dwpose_core.cli import batch as batch_cli
from dwpose_core.cli.main import main
from dwpose_core.files.images import write_image
from dwpose_core.hub.registry import DEFAULT_HAND
from oracles import make_hand, make_pose


@pytest.fixture
def files(tmp_path):
    pose = make_pose(tmp_path / "pose.onnx", dynamic_batch=True)
    hand = make_hand(tmp_path / "hand.onnx", confidence=1.5)  # more confident than the body oracle's 1.0
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", np.zeros((240, 320, 3), np.uint8))
    return pose, hand, ["--det", "none", "--pose", str(pose), "--backend", "onnxruntime", "-q"]


def people(path):
    return json.loads(path.read_text())[0]["people"]


def test_main_command_refines_hands_only_when_asked(tmp_path, files):
    pose, hand, models = files
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "plain"), *models]) == 0
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "refined"), *models, "--refine-hands", str(hand)]) == 0
    (plain,) = people(tmp_path / "plain" / "a.json")
    (refined,) = people(tmp_path / "refined" / "a.json")
    assert "refined_hands" not in plain and refined["refined_hands"] == ["left", "right"]
    before = np.array(plain["wholebody_keypoints_2d"]).reshape(133, 3)
    after = np.array(refined["wholebody_keypoints_2d"]).reshape(133, 3)
    np.testing.assert_array_equal(after[:91], before[:91])
    assert not np.allclose(after[91:, :2], before[91:, :2])
    np.testing.assert_allclose(after[91:, 2], 1.5, atol=1e-3)


def test_batch_takes_the_same_flag(tmp_path, files):
    _, hand, models = files
    assert batch_cli.main([str(tmp_path / "in"), "--out", str(tmp_path / "b"), *models,
                           "--refine-hands", str(hand)]) == 0
    (person,) = people(tmp_path / "b" / "a.json")
    assert person["refined_hands"] == ["left", "right"]


def test_flag_without_value_is_the_registry_hand_model():
    from dwpose_core.cli.common import Parser, add_model_arguments, setup_from_args

    p = Parser()
    add_model_arguments(p)
    assert setup_from_args(p.parse_args(["--refine-hands"])).refine_hands == DEFAULT_HAND
    assert setup_from_args(p.parse_args([])).refine_hands is None


def test_a_whole_body_model_as_hand_model_is_one_line_exit_2(tmp_path, files, capsys):
    pose, _, models = files
    code = main([str(tmp_path / "in"), "--out", str(tmp_path / "x"), *models, "--refine-hands", str(pose)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a hand model" in err[0] and "bug" not in err[0]
