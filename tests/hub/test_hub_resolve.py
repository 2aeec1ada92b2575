"""Resolution order and reuse of files that are already on disk: never a request when a good copy exists.

Every test runs with the fake endpoint up (HF_ENDPOINT points at it), so that
"no request" is measured, not assumed.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dwpose_core import hub
from dwpose_core.hub import locate
from fakehub import corrupt, hf_cache_entry, make_detector, make_pose, sha256, use_files

DET = make_detector(seed=0)
POSE = make_pose(seed=1)


def place(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def official(monkeypatch):
    """The registry expects DET / POSE as the official yolox_l.onnx / dw-ll_ucoco_384.onnx."""
    use_files(monkeypatch, {"yolox_l.onnx": DET, "dw-ll_ucoco_384.onnx": POSE})


# ---------------------------------------------------------------- explicit paths

def test_an_explicit_path_is_used_as_is(fake_hub, official):
    path = place(fake_hub.env.root / "elsewhere" / "my detector.onnx", DET)
    assert hub.resolve(path, kind="detector") == path
    assert hub.resolve(str(path)) == path
    assert fake_hub.count() == 0


def test_a_missing_explicit_path_says_so_and_suggests_the_bare_name(fake_hub):
    with pytest.raises(hub.ModelNotFoundError) as err:
        hub.resolve(fake_hub.env.root / "nowhere" / "yolox_l.onnx", kind="detector")
    assert "does not exist" in str(err.value) and "'yolox_l.onnx'" in str(err.value)
    assert fake_hub.count() == 0


def test_a_damaged_explicit_path_is_refused_with_what_is_wrong(fake_hub, official):
    path = place(fake_hub.env.root / "yolox_l.onnx", DET[:100])
    with pytest.raises(hub.CorruptModelError) as err:
        hub.resolve(path, kind="detector")
    text = str(err.value)
    assert str(path) in text and "does not load" in text and "yzd-v/DWPose/resolve/main/yolox_l.onnx" in text


def test_a_fine_tuned_file_under_an_official_name_is_used_with_a_warning(fake_hub, official, caplog):
    path = place(fake_hub.env.ckpts / "yolox_l.onnx", make_detector(seed=5))
    with caplog.at_level(logging.WARNING, logger="dwpose.hub"):
        assert hub.resolve("yolox_l.onnx", kind="detector") == path
    assert any(str(path) in r.getMessage() and "differs from the official" in r.getMessage() for r in caplog.records)
    assert fake_hub.count() == 0


# ---------------------------------------------------------------- order of the folders

def test_dwpose_ckpts_dir_comes_before_the_extension_ckpts(fake_hub, official, monkeypatch):
    mine = place(fake_hub.env.root / "models" / "yolox_l.onnx", DET)
    place(fake_hub.env.ckpts / "yolox_l.onnx", DET)
    monkeypatch.setenv("DWPOSE_CKPTS_DIR", str(mine.parent))
    assert hub.resolve("yolox_l.onnx") == mine
    assert fake_hub.count() == 0


def test_the_extension_ckpts_come_before_host_folders(fake_hub, official):
    own = place(fake_hub.env.ckpts / "yolox_l.onnx", DET)
    host = place(fake_hub.env.root / "ComfyUI" / "models" / "dwpose" / "yolox_l.onnx", DET)
    hub.register_host_dirs(lambda: [host.parent], lambda: host.parent)
    assert hub.resolve("yolox_l.onnx") == own
    own.unlink()
    assert hub.resolve("yolox_l.onnx") == host
    assert fake_hub.count() == 0


def test_our_folders_also_accept_the_repo_id_layout(fake_hub, official):
    nested = place(fake_hub.env.ckpts / "yzd-v" / "DWPose" / "dw-ll_ucoco_384.onnx", POSE)
    assert hub.resolve("dw-ll_ucoco_384.onnx", kind="pose") == nested


def test_registering_a_host_again_replaces_it_and_a_broken_hook_is_ignored(fake_hub, official, caplog):
    first = place(fake_hub.env.root / "a" / "yolox_l.onnx", DET)
    second = place(fake_hub.env.root / "b" / "yolox_l.onnx", DET)
    hub.register_host_dirs(lambda: [first.parent])
    hub.register_host_dirs(lambda: [second.parent])
    assert hub.resolve("yolox_l.onnx") == second

    def broken():
        raise RuntimeError("folder_paths is gone")

    hub.register_host_dirs(broken, broken, name="other")
    with caplog.at_level(logging.WARNING, logger="dwpose.hub"):
        assert hub.resolve("yolox_l.onnx") == second
    assert any("folder_paths is gone" in r.getMessage() for r in caplog.records)


def test_files_comfyui_controlnet_aux_downloaded_are_reused(fake_hub, official):
    custom_nodes = fake_hub.env.ext.parent
    det = place(custom_nodes / "comfyui_controlnet_aux" / "ckpts" / "yzd-v" / "DWPose" / "yolox_l.onnx", DET)
    pose = place(custom_nodes / "comfyui_controlnet_aux" / "ckpts" / "yzd-v" / "DWPose" / "dw-ll_ucoco_384.onnx",
                 POSE)
    assert hub.resolve("yolox_l.onnx", kind="detector") == det
    assert hub.resolve(None, kind="pose") == pose
    assert fake_hub.count() == 0


def test_aux_annotator_ckpts_path_is_searched(fake_hub, official, monkeypatch):
    root = fake_hub.env.root / "shared_ckpts"
    det = place(root / "yzd-v" / "DWPose" / "yolox_l.onnx", DET)
    monkeypatch.setenv("AUX_ANNOTATOR_CKPTS_PATH", str(root))
    assert hub.resolve("yolox_l.onnx") == det
    assert fake_hub.count() == 0


def test_aux_is_only_a_sibling_when_we_live_in_custom_nodes(fake_hub, official, monkeypatch):
    elsewhere = fake_hub.env.root / "standalone" / "comfyui-dwpose"
    elsewhere.mkdir(parents=True)
    monkeypatch.setattr(locate, "extension_root", lambda: elsewhere)
    place(elsewhere.parent / "comfyui_controlnet_aux" / "ckpts" / "yzd-v" / "DWPose" / "yolox_l.onnx", DET)
    with pytest.raises(hub.ModelNotFoundError):
        hub.resolve("yolox_l.onnx", download=False)


@pytest.mark.parametrize("where", [
    ("extensions", "sd-webui-controlnet", "annotator", "downloads", "openpose"),
    ("models", "openpose"),
])
def test_files_sd_webui_controlnet_downloaded_are_reused(fake_hub, official, monkeypatch, where):
    webui = fake_hub.env.root / "stable-diffusion-webui"
    ours = webui / "extensions" / "sd-webui-dwpose"
    ours.mkdir(parents=True)
    monkeypatch.setattr(locate, "extension_root", lambda: ours)
    pose = place(webui.joinpath(*where) / "dw-ll_ucoco_384.onnx", POSE)
    det = place(webui.joinpath(*where) / "yolox_l.onnx", DET)
    assert hub.resolve("dw-ll_ucoco_384.onnx", kind="pose") == pose
    assert hub.resolve("yolox_l.onnx", kind="detector") == det
    assert fake_hub.count() == 0


def test_the_hugging_face_cache_is_reused(fake_hub, official):
    snap = hf_cache_entry(fake_hub.env.hf_cache, "yzd-v/DWPose", "yolox_l.onnx", DET, sha256(DET))
    assert hub.resolve("yolox_l.onnx").resolve() == snap.resolve()
    assert fake_hub.count() == 0


def test_a_damaged_blob_in_the_hugging_face_cache_is_not_used(fake_hub, official):
    hf_cache_entry(fake_hub.env.hf_cache, "yzd-v/DWPose", "yolox_l.onnx", corrupt(DET), sha256(DET))
    with pytest.raises(hub.CorruptModelError) as err:
        hub.resolve("yolox_l.onnx", download=False)
    assert "SHA-256" in str(err.value)


def test_a_damaged_copy_is_skipped_for_a_good_one_later_in_the_order(fake_hub, official, caplog):
    bad = place(fake_hub.env.ckpts / "yolox_l.onnx", DET[: len(DET) // 2])
    good = place(fake_hub.env.ext.parent / "comfyui_controlnet_aux" / "ckpts" / "yzd-v" / "DWPose" / "yolox_l.onnx",
                 DET)
    with caplog.at_level(logging.WARNING, logger="dwpose.hub"):
        assert hub.resolve("yolox_l.onnx") == good
    assert any(str(bad) in r.getMessage() for r in caplog.records)
    assert fake_hub.count() == 0


# ---------------------------------------------------------------- names the registry does not know

def test_a_custom_model_name_is_found_in_our_folders(fake_hub):
    mine = place(fake_hub.env.ckpts / "my-finetune.onnx", make_pose(256, 192))
    assert hub.resolve("my-finetune.onnx", kind="pose") == mine
    assert fake_hub.count() == 0


def test_an_unknown_name_not_on_disk_lists_the_known_names_and_downloads_nothing(fake_hub):
    with pytest.raises(hub.ModelNotFoundError) as err:
        hub.resolve("dw-xx_ucoco.onnx", kind="pose")
    assert "dw-ll_ucoco_384.onnx" in str(err.value) and err.value.url is None
    assert fake_hub.count() == 0


def test_no_name_needs_a_kind(hub_env):
    with pytest.raises(ValueError, match="kind"):
        hub.resolve(None)


# ---------------------------------------------------------------- listing

def test_list_models_reports_where_each_file_is(fake_hub, official):
    det = place(fake_hub.env.ckpts / "yolox_l.onnx", DET)
    rows = {m.name: m for m in hub.list_models()}
    assert rows["yolox_l.onnx"].path == det and rows["yolox_l.onnx"].downloadable
    assert rows["dw-ll_ucoco_384.onnx"].path is None
    assert not rows["yolox_l.torchscript.pt"].supported and "yolox_l.onnx" in rows["yolox_l.torchscript.pt"].reason
    # YOLO-NAS files are used where a user has them, never downloaded (non-commercial weights)
    assert rows["yolo_nas_s_fp16.onnx"].supported and not rows["yolo_nas_s_fp16.onnx"].downloadable
    assert {m.kind for m in hub.list_models("pose")} == {"pose"}
    assert fake_hub.count() == 0
