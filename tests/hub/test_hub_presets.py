"""Presets: every name resolves to registry models; custom is "as given"; explicit choices win."""
from __future__ import annotations

import pytest

from dwpose_core import hub
from dwpose_core.hub import presets, registry


def test_the_names_and_custom_first():
    assert presets.NAMES == ("custom", "fast", "balanced", "accurate")


@pytest.mark.parametrize("name", ["fast", "balanced", "accurate"])
def test_each_preset_resolves_to_known_models_of_the_right_kind(name):
    chosen = presets.apply(name)
    det, pose = hub.get_spec(chosen["detector"]), hub.get_spec(chosen["pose"])
    assert det.kind == "detector" and pose.kind == "pose" and det.supported and pose.supported
    assert det.downloadable and pose.downloadable
    # the preset's detector size is the file's own (no derived graph needed on ONNX Runtime)
    assert chosen["det_size"] == det.input_hw[0] == det.input_hw[1]
    assert presets.unknown_models() == []


def test_fast_is_the_smallest_detector_and_accurate_the_largest():
    fast, balanced, accurate = (presets.PRESETS[n] for n in ("fast", "balanced", "accurate"))
    order = ["yolox_nano.onnx", "yolox_tiny.onnx", "yolox_s.onnx", "yolox_m.onnx", "yolox_l.onnx", "yolox_x.onnx"]
    assert order.index(fast.detector) < order.index(balanced.detector) < order.index(accurate.detector)
    assert fast.pose == "dw-ll_ucoco.onnx" and fast.det_size == 416


def test_custom_is_as_given_and_defaults_to_todays_pair():
    assert presets.apply("custom") == {"detector": "yolox_l.onnx", "det_size": None, "pose": "dw-ll_ucoco_384.onnx"}
    assert presets.apply(None) == presets.apply("") == presets.apply("custom")
    given = {"detector": "my.onnx", "det_size": 512, "pose": "p.onnx"}
    assert presets.apply("custom", **given) == given
    assert registry.DEFAULTS == {"detector": "yolox_l.onnx", "pose": "dw-ll_ucoco_384.onnx"}


def test_explicit_values_win_over_a_preset():
    assert presets.apply("fast", pose="dw-ll_ucoco_384.onnx") == {
        "detector": "yolox_tiny.onnx", "det_size": 416, "pose": "dw-ll_ucoco_384.onnx"}
    assert presets.apply("accurate", detector="yolox_l.onnx", det_size=640)["detector"] == "yolox_l.onnx"


def test_an_unknown_preset_is_one_line_listing_the_names():
    with pytest.raises(presets.PresetError) as err:
        presets.apply("fastest")
    assert str(err.value) == "Unknown preset 'fastest'; use one of custom, fast, balanced, accurate."
    assert isinstance(err.value, ValueError) and isinstance(err.value, hub.HubError)
