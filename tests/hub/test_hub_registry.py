"""The registry: every supported file as data, unsupported files with a reason and an alternative."""
from __future__ import annotations

import pytest

from dwpose_core import hub
from dwpose_core.hub import registry


def test_defaults_are_yolox_l_and_dwpose_l_384():
    assert hub.DEFAULTS == {"detector": "yolox_l.onnx", "pose": "dw-ll_ucoco_384.onnx"}
    for kind, name in hub.DEFAULTS.items():
        spec = hub.get_spec(name)
        assert spec.kind == kind and spec.supported and spec.downloadable


def test_detector_takes_raw_bgr_and_pose_takes_normalised_rgb():
    det, pose = hub.get_spec("yolox_l.onnx"), hub.get_spec("dw-ll_ucoco_384.onnx")
    assert (det.channel_order, det.mean, det.std, det.input_hw) == ("bgr", None, None, (640, 640))
    assert pose.channel_order == "rgb" and pose.input_hw == (384, 288)
    assert pose.mean == pytest.approx((123.675, 116.28, 103.53))
    assert pose.std == pytest.approx((58.395, 57.12, 57.375))


def test_torch_checkpoints_are_listed_with_their_input_sizes():
    expected = {"dw-ll_ucoco_384.pth": (384, 288), "dw-ll_ucoco.pth": (256, 192), "dw-mm_ucoco.pth": (256, 192),
                "dw-ss_ucoco.pth": (256, 192), "dw-tt_ucoco.pth": (256, 192)}
    for name, hw in expected.items():
        spec = hub.get_spec(name)
        assert (spec.repo_id, spec.kind, spec.format, spec.input_hw) == ("yzd-v/DWPose", "pose", "pth", hw)
    unjit = hub.get_spec("dw-ll_ucoco.onnx")
    assert (unjit.repo_id, unjit.input_hw, unjit.format) == ("hr16/UnJIT-DWPose", (256, 192), "onnx")


def test_known_sizes_and_hashes_are_well_formed():
    assert hub.get_spec("dw-ll_ucoco_384.onnx").size == 134_399_116
    assert hub.get_spec("dw-ll_ucoco_384.pth").size == 406_878_486
    assert hub.get_spec("dw-ll_ucoco.pth").size == 404_734_742
    for spec in registry.MODELS.values():
        if spec.sha256 is not None:
            assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0


def test_every_unsupported_file_says_why_and_names_a_supported_alternative_of_its_kind():
    unsupported = [s for s in registry.MODELS.values() if not s.supported]
    assert {s.filename for s in unsupported} >= {"yolox_l.torchscript.pt", "dw-ll_ucoco_384_bs5.torchscript.pt"}
    for spec in unsupported:
        assert spec.reason and not spec.downloadable
        alternative = hub.get_spec(spec.instead)
        assert alternative.supported and alternative.kind == spec.kind


def test_asking_for_torchscript_explains_the_reason_and_the_alternative(fake_hub):
    with pytest.raises(hub.UnsupportedModelError) as err:
        hub.resolve("dw-ll_ucoco_384_bs5.torchscript.pt", kind="pose")
    assert "code" in str(err.value) and "dw-ll_ucoco_384.onnx" in str(err.value)
    assert fake_hub.count() == 0


def test_a_torchscript_file_given_as_a_path_is_refused_too(hub_env):
    path = hub_env.root / "yolox_l.torchscript.pt"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(hub.UnsupportedModelError, match="yolox_l.onnx"):
        hub.resolve(path, kind="detector")


def test_a_detector_name_where_a_pose_model_is_needed_is_refused(hub_env):
    with pytest.raises(hub.ModelKindError, match="detector"):
        hub.resolve("yolox_l.onnx", kind="pose")


def test_unknown_name_suggests_the_close_one():
    with pytest.raises(KeyError, match="yolox_l.onnx"):
        hub.get_spec("yolox_l.onx")


def test_repo_qualified_names_resolve_only_for_the_right_repo():
    assert registry.find_spec("yzd-v/DWPose/yolox_l.onnx").filename == "yolox_l.onnx"
    assert registry.find_spec("someone/else/yolox_l.onnx") is None


def test_download_url_follows_the_hub_layout():
    assert hub.get_spec("yolox_l.onnx").url() == "https://huggingface.co/yzd-v/DWPose/resolve/main/yolox_l.onnx"
    assert (hub.get_spec("dw-ll_ucoco.onnx").url("http://mirror/")
            == "http://mirror/hr16/UnJIT-DWPose/resolve/main/dw-ll_ucoco.onnx")


@pytest.mark.parametrize("name,x_bins,y_bins", [("dw-ll_ucoco_384.onnx", 576, 768), ("dw-ll_ucoco.onnx", 384, 512)])
def test_pose_contract_has_two_simcc_bins_per_input_pixel(name, x_bins, y_bins):
    contract = registry.onnx_contract(hub.get_spec(name), "pose")
    assert contract.outputs == {"simcc_x": (None, 133, x_bins), "simcc_y": (None, 133, y_bins)}


def test_only_the_yzd_v_exports_have_known_io_names():
    assert registry.onnx_contract(hub.get_spec("dw-ll_ucoco_384.onnx"), "pose").input_name == "input"
    unjit = registry.onnx_contract(hub.get_spec("dw-ll_ucoco.onnx"), "pose")
    assert unjit.input_name is None and unjit.positional


def test_detector_contract_is_the_yolox_640_grid():
    contract = registry.onnx_contract(hub.get_spec("yolox_l.onnx"), "detector")
    assert contract.input_name == "images" and contract.input_shape == (None, 3, 640, 640)
    assert contract.outputs == {"output": (None, 80 * 80 + 40 * 40 + 20 * 20, 85)}
