"""Where the missing-model message sends the user: the file's own source, and the official Hugging Face
address only when a mirror (HF_ENDPOINT) served it."""
from dwpose_core.hub.download import file_url
from dwpose_core.hub.messages import placement_help
from dwpose_core.hub.registry import get_spec


def test_a_release_asset_is_named_as_it_is_and_never_as_a_hugging_face_address(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    spec = get_spec("yolox_tiny.onnx")
    text = placement_help(spec.filename, file_url(spec))
    assert "Download it from: https://github.com/Megvii-BaseDetection/YOLOX/releases/download/" in text
    assert "(official:" not in text


def test_a_mirror_names_the_official_hugging_face_file(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    spec = get_spec("yolox_l.onnx")
    text = placement_help(spec.filename, file_url(spec))
    assert "(official: https://huggingface.co/yzd-v/DWPose/resolve/main/yolox_l.onnx)" in text


def test_without_a_mirror_there_is_no_official_note(monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    spec = get_spec("yolox_l.onnx")
    text = placement_help(spec.filename, file_url(spec))
    assert "https://huggingface.co/yzd-v/DWPose/resolve/main/yolox_l.onnx" in text and "(official:" not in text


def test_an_unreachable_release_server_is_not_told_to_use_a_hugging_face_mirror(hub_env, monkeypatch):
    import dataclasses

    import pytest

    from dwpose_core import hub
    from dwpose_core.hub import download, registry

    spec = registry.MODELS["yolox_tiny.onnx"]
    monkeypatch.setitem(registry.MODELS, "yolox_tiny.onnx", dataclasses.replace(
        spec, sources=("http://127.0.0.1:9/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_tiny.onnx",)))
    download.forget_unreachable()
    with pytest.raises(hub.DownloadError) as err:
        hub.resolve("yolox_tiny.onnx", kind="detector")
    text = str(err.value)
    assert "the server cannot be reached" in text and "HF_ENDPOINT" not in text.split("\n")[0]
