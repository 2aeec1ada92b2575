"""The A1111 entry that draws with RTMW-l 384 (issue 22)."""
from __future__ import annotations

import pytest

from a1111_dwpose import runner
from dwpose_core.hub.registry import POSE, find_spec

RTMW = "dwpose_openpose_full_rtmw"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ("DWPOSE_A1111_PRESET", "DWPOSE_A1111_DETECTOR", "DWPOSE_A1111_POSE", "DWPOSE_A1111_BACKEND",
                "DWPOSE_A1111_REFINE_HANDS"):
        monkeypatch.delenv(var, raising=False)


def variant(name):
    return next(v for v in runner.VARIANTS if v.name == name)


def test_rtmw_entry_is_an_openpose_entry_bound_to_a_registry_model():
    v = variant(RTMW)
    assert "openpose" in v.name and "openpose" in v.label  # ControlNet's JSON callback needs it in both
    spec = find_spec(v.pose)
    assert spec is not None and spec.kind == POSE and spec.input_hw == (384, 288) and spec.num_keypoints == 133
    assert (v.hands, v.face, v.body, v.feet) == (True, True, True, False)


def test_rtmw_entry_uses_rtmw_whatever_pose_is_configured(monkeypatch):
    monkeypatch.setenv("DWPOSE_A1111_POSE", "dw-ll_ucoco_384.onnx")
    models = runner.A1111Models()
    assert models._setup(variant(RTMW).pose).pose == "rtmw-l_384x288.onnx"
    # the other entries keep the configured model
    assert models._setup(variant("dwpose_openpose_full").pose).pose == "dw-ll_ucoco_384.onnx"


@pytest.mark.parametrize("value,expected", [
    (None, None), ("", None), ("0", None), ("off", None), ("No", None),
    ("1", "rtmpose-m_hand5_256x256.onnx"), ("on", "rtmpose-m_hand5_256x256.onnx"),
    ("rtmpose-m_hand5_256x256.pth", "rtmpose-m_hand5_256x256.pth"), (" /models/my_hand.onnx ", "/models/my_hand.onnx"),
])
def test_refine_hands_environment_variable(monkeypatch, value, expected):
    if value is not None:
        monkeypatch.setenv("DWPOSE_A1111_REFINE_HANDS", value)
    assert runner.A1111Models()._setup().refine_hands == expected


def test_refine_hands_is_off_by_default_and_configurable():
    models = runner.A1111Models()
    assert models._setup().refine_hands is None
    models.configure(refine_hands="on")
    assert models._setup().refine_hands == "rtmpose-m_hand5_256x256.onnx"
