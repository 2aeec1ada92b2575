"""Downloads through the hub's own HTTP client against the fake endpoint: placement, reuse, offline
mode, corrupted / truncated / interrupted transfers, HF_ENDPOINT and HF_TOKEN. Deadlines and the
unreachable hub are in test_hub_deadlines.py."""
from __future__ import annotations

import dataclasses
import logging
import os

import pytest

from dwpose_core import hub
from dwpose_core.hub import download as dl
from dwpose_core.hub import registry
from fakehub import FakeHub, corrupt, hf_cache_entry, sha256
from fakehub import OFFICIAL_REPO as REPO, SERVED_DETECTOR as DET, SERVED_POSE as POSE


def model_files(root, name):
    """Every file under root whose name contains `name` (partial downloads carry other names)."""
    return [p for p in root.rglob(f"*{name}*") if p.is_file() and "user_cache" not in p.parts]


def leftovers(folder):
    """Anything in a model folder besides the model files themselves (lock files, .cache folders, parts)."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.startswith("."))


# ---------------------------------------------------------------- where downloads land, and reuse

def test_a_download_lands_in_the_extension_ckpts_and_matches(served):
    path = hub.resolve("yolox_l.onnx", kind="detector")
    assert path == served.env.ckpts / "yolox_l.onnx"
    assert path.read_bytes() == DET
    hub_requests = [r for r in served.file_requests() if r.server == "hub"]
    assert [r.path for r in hub_requests] == [f"/{REPO}/resolve/main/yolox_l.onnx"]
    assert len(served.gets("yolox_l.onnx")) == 1


def test_a_download_leaves_nothing_else_in_the_model_folder(served):
    hub.resolve("yolox_l.onnx")
    assert sorted(p.name for p in served.env.ckpts.iterdir()) == ["yolox_l.onnx"]
    # its provenance record is in the per-user cache instead
    assert hub.provenance.read_record(served.env.ckpts / "yolox_l.onnx").sha256 == sha256(DET)
    assert list((served.env.user_cache / "downloads").glob("*.json"))


def test_a_second_resolution_makes_no_request(served):
    first = hub.resolve("dw-ll_ucoco_384.onnx", kind="pose")
    before = served.count()
    hub.verify.clear_cache()  # as in a new process
    assert hub.resolve("dw-ll_ucoco_384.onnx", kind="pose") == first
    assert served.count() == before


def test_dwpose_ckpts_dir_is_the_download_folder_when_set(served, monkeypatch):
    target = served.env.root / "my models"
    monkeypatch.setenv("DWPOSE_CKPTS_DIR", str(target))
    assert hub.resolve("yolox_l.onnx") == target / "yolox_l.onnx"
    assert not (served.env.ckpts / "yolox_l.onnx").exists()


def test_a_host_download_folder_is_used_inside_comfyui(served):
    models = served.env.root / "ComfyUI" / "models" / "dwpose"
    hub.register_host_dirs(lambda: [models], lambda: models)
    assert hub.resolve("yolox_l.onnx") == models / "yolox_l.onnx"
    assert hub.download_dir() == models


# ---------------------------------------------------------------- offline

def test_offline_without_the_file_says_where_to_put_it_and_where_to_get_it(served, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.ModelNotFoundError) as err:
        hub.resolve("yolox_l.onnx", kind="detector")
    text = str(err.value)
    assert "yolox_l.onnx" in text and "HF_HUB_OFFLINE" in text
    assert str(served.env.ckpts) in text
    assert f"{served.url}/{REPO}/resolve/main/yolox_l.onnx" in text
    assert served.env.ckpts in err.value.searched
    assert served.count() == 0


def test_the_offline_message_names_the_official_url_without_a_mirror(hub_env, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.ModelNotFoundError) as err:
        hub.resolve(None, kind="pose")
    assert err.value.url == "https://huggingface.co/yzd-v/DWPose/resolve/main/dw-ll_ucoco_384.onnx"
    assert err.value.url in str(err.value)


def test_download_false_never_touches_the_network(served):
    with pytest.raises(hub.ModelNotFoundError, match="not allowed"):
        hub.resolve("yolox_l.onnx", download=False)
    assert served.count() == 0


# ---------------------------------------------------------------- damaged files

def test_a_corrupted_download_is_detected_and_downloaded_again(served, caplog):
    served.fault("yolox_l.onnx", "corrupt", times=1)
    with caplog.at_level(logging.WARNING, logger="dwpose.hub"):
        path = hub.resolve("yolox_l.onnx")
    assert path.read_bytes() == DET
    assert len(served.gets("yolox_l.onnx")) == 2
    assert any("not the expected file" in r.getMessage() and "SHA-256" in r.getMessage() for r in caplog.records)


def test_a_download_that_stays_corrupt_is_deleted_and_reported(served):
    served.fault("yolox_l.onnx", "corrupt", times=None)
    with pytest.raises(hub.CorruptModelError) as err:
        hub.resolve("yolox_l.onnx")
    assert "SHA-256" in str(err.value) and "yolox_l.onnx" in str(err.value)
    assert model_files(served.env.root, "yolox_l.onnx") == []


def test_without_a_registry_hash_the_servers_lfs_hash_is_checked(served, monkeypatch):
    spec = registry.MODELS["yolox_l.onnx"]
    monkeypatch.setitem(registry.MODELS, "yolox_l.onnx", dataclasses.replace(spec, size=None, sha256=None))
    served.fault("yolox_l.onnx", "corrupt", times=None)
    with pytest.raises(hub.CorruptModelError, match="SHA-256"):
        hub.resolve("yolox_l.onnx")
    served.faults.clear()
    assert hub.resolve("yolox_l.onnx").read_bytes() == DET


def test_a_truncated_file_in_the_download_folder_is_reported_and_replaced(served, caplog):
    served.env.ckpts.mkdir(parents=True)
    stale = served.env.ckpts / "yolox_l.onnx"
    stale.write_bytes(DET[: len(DET) // 2])  # e.g. a browser download that stopped
    with caplog.at_level(logging.WARNING, logger="dwpose.hub"):
        assert hub.resolve("yolox_l.onnx") == stale
    assert stale.read_bytes() == DET
    assert any(str(stale) in r.getMessage() and "truncated" in r.getMessage() for r in caplog.records)


def test_a_downloaded_file_damaged_later_is_replaced_even_with_the_same_size(served):
    path = hub.resolve("yolox_l.onnx")
    path.write_bytes(corrupt(DET))  # structure intact, only the hash can tell
    later = path.stat().st_mtime + 60  # another mtime: the download record no longer vouches for it
    os.utime(path, (later, later))
    hub.verify.clear_cache()
    gets = len(served.gets())
    assert hub.resolve("yolox_l.onnx") == path
    assert path.read_bytes() == DET and len(served.gets()) == gets + 1


def test_a_corrupt_blob_in_the_hf_cache_is_not_used_and_a_good_copy_is_downloaded(served):
    hf_cache_entry(served.env.hf_cache, REPO, "yolox_l.onnx", corrupt(DET), blob_name=sha256(DET))
    path = hub.resolve("yolox_l.onnx")
    assert path == served.env.ckpts / "yolox_l.onnx" and path.read_bytes() == DET
    assert len(served.gets()) == 1


# ---------------------------------------------------------------- interrupted transfers

def test_a_connection_cut_once_is_resumed_from_where_it_stopped(served):
    served.fault("dw-ll_ucoco_384.onnx", "cut", times=1, at=len(POSE) // 3)
    path = hub.resolve("dw-ll_ucoco_384.onnx")
    assert path.read_bytes() == POSE
    first, second = served.gets("dw-ll_ucoco_384.onnx")
    assert "range" not in first.headers and second.headers["range"] == f"bytes={len(POSE) // 3}-"


def test_a_download_cut_off_half_way_is_never_used(served):
    served.fault("dw-ll_ucoco_384.onnx", "cut", times=None, at=len(POSE) // 2)
    with pytest.raises(hub.DownloadError) as err:
        hub.resolve("dw-ll_ucoco_384.onnx", kind="pose")
    assert "Nothing partial was kept" in str(err.value) and "cut" in str(err.value)
    assert model_files(served.env.root, "dw-ll_ucoco_384.onnx") == []
    assert leftovers(served.env.ckpts) == []
    with pytest.raises(hub.ModelNotFoundError):  # and a later run does not pick up the pieces
        hub.resolve("dw-ll_ucoco_384.onnx", kind="pose", download=False)


def test_a_body_shorter_than_announced_is_refused(served):
    served.fault("yolox_l.onnx", "short", times=None)
    with pytest.raises(hub.DownloadError):
        hub.resolve("yolox_l.onnx")
    assert model_files(served.env.root, "yolox_l.onnx") == []


def test_a_server_error_is_reported_and_the_next_attempt_works(served):
    served.fault("yolox_l.onnx", "error", times=1)
    with pytest.raises(hub.DownloadError, match="yolox_l.onnx"):
        hub.resolve("yolox_l.onnx")
    assert hub.resolve("yolox_l.onnx").read_bytes() == DET


def test_a_file_the_server_does_not_have_is_a_clear_error(fake_hub):
    with pytest.raises(hub.DownloadError) as err:
        hub.resolve("dw-tt_ucoco.pth")
    assert "does not have it" in str(err.value)
    assert "yzd-v/DWPose/resolve/main/dw-tt_ucoco.pth" in str(err.value)


# ---------------------------------------------------------------- endpoint and token

def test_hf_endpoint_set_after_import_is_honoured(served, monkeypatch):
    mirror = FakeHub().start()
    try:
        mirror.add(REPO, "yolox_l.onnx", DET)
        monkeypatch.setenv("HF_ENDPOINT", mirror.url)
        assert hub.resolve("yolox_l.onnx").read_bytes() == DET
        assert len(mirror.gets()) == 1 and served.count() == 0
    finally:
        mirror.stop()


def test_hf_token_is_sent_to_the_hub(served, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_123")
    hub.resolve("yolox_l.onnx")
    (asked,) = [r for r in served.file_requests() if r.server == "hub"]
    assert asked.headers.get("authorization") == "Bearer hf_test_token_123"
    # never to the CDN the hub redirects to (another origin)
    assert all("authorization" not in r.headers for r in served.gets())


def test_endpoint_and_offline_are_read_at_call_time(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example/")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert dl.endpoint() == "http://mirror.example" and not dl.is_offline()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert dl.is_offline()


def test_concurrent_resolutions_download_once(served):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: hub.resolve("yolox_l.onnx"), range(4)))
    assert len(set(paths)) == 1 and paths[0].read_bytes() == DET
    assert len(served.gets("yolox_l.onnx")) == 1
