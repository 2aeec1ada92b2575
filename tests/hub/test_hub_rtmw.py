"""RTMW and hand-model registry rows (issue 22): archive models resolved through the fake hub by name,
extracted under our names, checked against their own contract (133 or 21 SimCC rows)."""
from __future__ import annotations

import dataclasses

import pytest

from dwpose_core import hub
from dwpose_core.hub import registry, structure
from fakehub import _onnx_model, sha256
from hub.test_hub_archives import make_zip

MIRROR = registry.MMPOSE_MIRROR_REPO


def serve(monkeypatch, fake_hub, name, model_bytes):
    spec = registry.MODELS[name]
    archive_path = spec.sources[0].split(f"/{registry.MMPOSE_MIRROR_REVISION}/", 1)[1]
    data = make_zip({"20231122/rtmw/end2end.onnx": model_bytes, "20231122/rtmw/pipeline.json": b"{}",
                     "20231122/rtmw/deploy.json": b"{}"})
    fake_hub.add(MIRROR, archive_path, data)
    monkeypatch.setitem(registry.MODELS, name, dataclasses.replace(
        spec, sources=(spec.sources[0],), archive_sha256=sha256(data), archive_size=len(data),
        sha256=sha256(model_bytes), size=len(model_bytes)))


def simcc(hw, keypoints, seed=1):
    h, w = hw
    return _onnx_model("input", (1, 3, h, w), {"simcc_x": (1, keypoints, 2 * w), "simcc_y": (1, keypoints, 2 * h)},
                       seed=seed)


@pytest.mark.parametrize("name,hw", [("rtmw-m_256x192.onnx", (256, 192)), ("rtmw-l_384x288.onnx", (384, 288))])
def test_rtmw_archive_resolves_by_short_name_as_a_pose_model(fake_hub, monkeypatch, name, hw):
    model = simcc(hw, 133)
    serve(monkeypatch, fake_hub, name, model)
    path = hub.resolve(name[:-len(".onnx")], kind="pose")
    assert path.name == name and path.read_bytes() == model
    assert sorted(p.name for p in path.parent.iterdir()) == [name]  # the model alone is complete


def test_hand_archive_resolves_and_a_whole_body_graph_under_its_name_is_refused(fake_hub, monkeypatch):
    name = registry.DEFAULT_HAND
    serve(monkeypatch, fake_hub, name, simcc((256, 256), 21))
    assert hub.resolve(name, kind="pose").name == name
    wrong = fake_hub.env.ckpts / "wrong.onnx"
    wrong.write_bytes(simcc((256, 256), 133, seed=2))
    problems, _ = structure.check_structure(wrong, registry.MODELS[name], "pose")
    assert any("21" in p for p in problems), problems
    # a custom file (no registry row) may have any count: the stages check what they need
    assert structure.check_structure(wrong, None, "pose")[0] == []


def test_hand_models_are_not_in_the_pose_lists_but_are_known():
    pose_names = {s.filename for s in registry.specs(registry.POSE)}
    assert {"rtmw-m_256x192.onnx", "rtmw-l_256x192.onnx", "rtmw-l_384x288.onnx", "rtmw-x_384x288.pth"} <= pose_names
    assert not pose_names & set(registry.hand_model_names())
    assert registry.hand_model_names()[0] == registry.DEFAULT_HAND
    assert registry.find_spec("rtmpose-m_hand5_256x256").num_keypoints == 21


def test_rtmw_rows_share_dwposes_contract():
    for name in ("rtmw-m_256x192.onnx", "rtmw-l_256x192.onnx", "rtmw-l_384x288.onnx"):
        spec = registry.get_spec(name)
        assert (spec.mean, spec.std, spec.channel_order) == (registry.IMAGENET_MEAN, registry.IMAGENET_STD, "rgb")
        h, w = spec.input_hw
        contract = registry.onnx_contract(spec, "pose")
        assert contract.outputs == {"simcc_x": (None, 133, 2 * w), "simcc_y": (None, 133, 2 * h)}
        assert spec.sources[1].startswith(registry.OPENMMLAB_PROJECTS) and spec.licence
    pth = registry.get_spec("rtmw-x_384x288.pth")
    assert pth.format == "pth" and pth.archive is None and pth.sources[0].endswith("f840f204_20231122.pth")
