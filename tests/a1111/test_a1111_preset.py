"""DWPOSE_A1111_PRESET: a whole configuration (detector, its input size, pose model) for the A1111 preprocessors."""
from __future__ import annotations

import pytest

from a1111_dwpose import runner
from dwpose_core.hub import presets


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ("DWPOSE_A1111_PRESET", "DWPOSE_A1111_DETECTOR", "DWPOSE_A1111_POSE", "DWPOSE_A1111_BACKEND"):
        monkeypatch.delenv(var, raising=False)


def setup_of(**kwargs):
    s = runner.A1111Models(**kwargs)._setup()
    return s.detector, s.det_size, s.pose


def test_without_a_preset_the_defaults_stay_todays_pair():
    assert setup_of() == ("yolox_l.onnx", None, "dw-ll_ucoco_384.onnx")


@pytest.mark.parametrize("name", ["fast", "balanced", "accurate", "FAST "])
def test_the_environment_variable_picks_the_whole_configuration(monkeypatch, name):
    monkeypatch.setenv("DWPOSE_A1111_PRESET", name)
    p = presets.PRESETS[name.strip().lower()]
    assert setup_of() == (p.detector, p.det_size, p.pose)


def test_a_detector_or_pose_set_as_well_wins_over_the_preset(monkeypatch):
    monkeypatch.setenv("DWPOSE_A1111_PRESET", "fast")
    monkeypatch.setenv("DWPOSE_A1111_POSE", "dw-ll_ucoco_384.onnx")
    assert setup_of() == ("yolox_tiny.onnx", 416, "dw-ll_ucoco_384.onnx")


def test_an_unknown_preset_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv("DWPOSE_A1111_PRESET", "turbo")
    with pytest.raises(presets.PresetError) as err:
        setup_of()
    assert "DWPOSE_A1111_PRESET" in str(err.value) and "fast, balanced, accurate" in str(err.value)
