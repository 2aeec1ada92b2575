"""Models inside zip archives (OpenMMLab's onnx_sdk zips) and models from non-Hugging-Face sources, through
the fake hub: extraction under our names, hash checks, first-seen hashes, source fallback, zip-slip, bombs."""
from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import pytest

from dwpose_core import hub
from dwpose_core.hub import archives, registry, user_cache
from fakehub import _onnx_model, make_detector, sha256

NAME = "yolox_m_humanart.onnx"
MIRROR = registry.MMPOSE_MIRROR_REPO
ARCHIVE_PATH = "rtmposev1/onnx_sdk/yolox_m_8xb8-300e_humanart-c2c7a14a.zip"
PIPELINE = {"pipeline": {"input": ["img"], "output": ["post_output"], "tasks": [
    {"type": "Task", "module": "Transform", "name": "Preprocess", "transforms": [
        {"type": "LoadImageFromFile"}, {"type": "Resize", "size": [640, 640], "keep_ratio": True},
        {"type": "Pad", "size": [640, 640], "pad_val": {"img": [114, 114, 114]}}]}]}}
E2E = _onnx_model("input", (1, 3, 640, 640), {"dets": (1, 100, 5), "labels": (1, 100)}, seed=5)


def make_zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def onnx_sdk_zip(model: bytes = E2E, folder: str = "20230831/yolox_m", extra: dict | None = None) -> bytes:
    return make_zip({f"{folder}/end2end.onnx": model, f"{folder}/pipeline.json": json.dumps(PIPELINE).encode(),
                     f"{folder}/deploy.json": b"{}", f"{folder}/detail.json": b"{}", **(extra or {})})


def expect(monkeypatch, fake_hub, zip_bytes, *, pin_archive=True, pin_model=True, sources=None, **more):
    """Serve `zip_bytes` at the mirror path and make the registry expect it (or not pin it)."""
    fake_hub.add(MIRROR, ARCHIVE_PATH, zip_bytes)
    spec = registry.MODELS[NAME]
    monkeypatch.setitem(registry.MODELS, NAME, dataclasses.replace(
        spec, sources=sources or (spec.sources[0],),
        archive_sha256=sha256(zip_bytes) if pin_archive else None, archive_size=len(zip_bytes) if pin_archive else None,
        sha256=sha256(E2E) if pin_model else None, size=len(E2E) if pin_model else None, **more))
    return registry.MODELS[NAME]


def folder_files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_an_archive_model_is_downloaded_from_the_pinned_mirror_and_only_model_and_pipeline_are_extracted(
        fake_hub, monkeypatch):
    expect(monkeypatch, fake_hub, onnx_sdk_zip())
    path = hub.resolve("yolox_m_humanart", kind="detector")
    ckpts = fake_hub.env.ckpts
    assert path == ckpts / NAME and path.read_bytes() == E2E
    assert folder_files(ckpts) == ["yolox_m_humanart.onnx", "yolox_m_humanart.pipeline.json"]
    assert json.loads((ckpts / "yolox_m_humanart.pipeline.json").read_text()) == PIPELINE
    hub_paths = [r.path for r in fake_hub.file_requests() if r.server == "hub"]
    assert hub_paths == [f"/{MIRROR}/resolve/{registry.MMPOSE_MIRROR_REVISION}/{ARCHIVE_PATH}"]
    # the next resolution finds it without a request; without its pipeline.json it is fetched again
    before = fake_hub.count()
    hub.verify.clear_cache()
    assert hub.resolve(NAME, kind="detector") == path and fake_hub.count() == before
    (ckpts / "yolox_m_humanart.pipeline.json").unlink()
    assert hub.resolve(NAME, kind="detector") == path and fake_hub.count() > before
    assert (ckpts / "yolox_m_humanart.pipeline.json").is_file()


def test_an_archive_with_another_hash_is_fetched_twice_then_refused_and_nothing_is_kept(fake_hub, monkeypatch):
    expect(monkeypatch, fake_hub, onnx_sdk_zip())
    spec = registry.MODELS[NAME]
    monkeypatch.setitem(registry.MODELS, NAME, dataclasses.replace(spec, archive_sha256="0" * 64))
    with pytest.raises(hub.CorruptModelError, match="wrong both times"):
        hub.resolve(NAME, kind="detector")
    assert len(fake_hub.gets()) == 2
    assert folder_files(fake_hub.env.ckpts) == []


def test_a_model_member_with_another_hash_is_refused(fake_hub, monkeypatch):
    other = _onnx_model("input", (1, 3, 640, 640), {"dets": (1, 100, 5), "labels": (1, 100)}, seed=6)
    expect(monkeypatch, fake_hub, onnx_sdk_zip(model=other))
    with pytest.raises(hub.CorruptModelError, match="SHA-256"):
        hub.resolve(NAME, kind="detector")
    assert folder_files(fake_hub.env.ckpts) == []


def test_a_member_named_dot_dot_refuses_the_whole_archive_and_nothing_lands_outside(fake_hub, monkeypatch):
    expect(monkeypatch, fake_hub, onnx_sdk_zip(extra={"../x": b"escaped", "../../y": b"escaped"}))
    with pytest.raises(archives.ArchiveError, match=r"'\.\./x'.*outside"):
        hub.resolve(NAME, kind="detector")
    root = fake_hub.env.root
    assert not list(root.rglob("x")) and not list(root.rglob("y"))
    assert folder_files(fake_hub.env.ckpts) == []


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/x", "\\x", "C:x", "c:/x", "a\\..\\x", "a\x00b"])
def test_unsafe_member_names(name):
    assert archives.unsafe_member_name(name)


@pytest.mark.parametrize("name", ["end2end.onnx", "20230831/a/end2end.onnx", "a..b/c", "..x"])
def test_safe_member_names(name):
    assert not archives.unsafe_member_name(name)


def test_a_zip_bomb_is_refused_before_it_is_inflated(fake_hub, monkeypatch):
    bomb = onnx_sdk_zip(model=bytes(64 << 20))  # 64 MiB of zeros deflate to ~64 KiB
    expect(monkeypatch, fake_hub, bomb, pin_model=False)
    written = []
    monkeypatch.setattr(archives, "_inflate", lambda *a, **k: written.append(a) or "0" * 64)
    with pytest.raises(archives.ArchiveError, match="zip bomb"):
        hub.resolve(NAME, kind="detector")
    assert written == [] and folder_files(fake_hub.env.ckpts) == []


def test_a_member_larger_than_the_registry_size_or_the_limit_is_refused_unread(tmp_path, monkeypatch):
    spec = registry.MODELS[NAME]
    archive = tmp_path / "a.zip"
    archive.write_bytes(onnx_sdk_zip(model=E2E + b"\0" * 10))
    with pytest.raises(archives.ArchiveError, match=f"the model is {len(E2E):,} bytes"):
        archives.extract_model(archive, dataclasses.replace(spec, size=len(E2E), sha256=None), tmp_path / "out")
    monkeypatch.setattr(archives, "MAX_SIDECAR_BYTES", 10)
    with pytest.raises(archives.ArchiveError, match="more than the 10 allowed"):
        archives.extract_model(archive, dataclasses.replace(spec, size=None, sha256=None), tmp_path / "out")
    assert not (tmp_path / "out").exists() or folder_files(tmp_path / "out") == []


def test_inflating_past_the_declared_size_is_caught_while_counting(tmp_path):
    """A header that understates a member's size: the byte count stops it (whatever zipfile does)."""
    spec = dataclasses.replace(registry.MODELS[NAME], size=None, sha256=None)
    archive = tmp_path / "a.zip"
    archive.write_bytes(onnx_sdk_zip())
    with zipfile.ZipFile(archive) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("end2end.onnx"))
        info.file_size = 100  # what a lying header would say

        class Liar:  # a member stream that yields more than declared
            def __init__(self):
                self.left = [b"a" * 80, b"b" * 80]

            def __enter__(self):
                return self

            def __exit__(self, *a):
                return False

            def read(self, n):
                return self.left.pop(0) if self.left else b""

        zf.open = lambda *_a, **_k: Liar()
        with pytest.raises(archives.ArchiveError, match="beyond its declared 100 bytes"):
            archives._inflate(zf, info, tmp_path / "m.part", "a.zip", spec)


def test_a_missing_member_is_named(tmp_path):
    spec = registry.MODELS[NAME]
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"x/model.onnx": E2E, "x/pipeline.json": b"{}"}))
    with pytest.raises(archives.ArchiveError, match="no member.*'end2end.onnx'"):
        archives.extract_model(archive, spec, tmp_path)


def test_an_unpublished_archive_hash_is_recorded_at_the_first_download_and_a_change_is_refused(
        fake_hub, monkeypatch):
    first = onnx_sdk_zip()
    spec = expect(monkeypatch, fake_hub, first, pin_archive=False, pin_model=False)
    path = hub.resolve(NAME, kind="detector")
    assert archives.first_seen(spec) == sha256(first)
    # upstream changes the archive; the local copy is gone
    path.unlink()
    changed = onnx_sdk_zip(model=_onnx_model("input", (1, 3, 640, 640), {"dets": (1, 100, 5), "labels": (1, 100)},
                                             seed=9))
    fake_hub.files[(MIRROR, ARCHIVE_PATH)] = changed
    with pytest.raises(hub.CorruptModelError, match="first download on this machine"):
        hub.resolve(NAME, kind="detector")
    assert not path.exists()
    # deleting the named record accepts the new file
    user_cache.key_file(archives.FIRST_SEEN, archives.first_seen_key(spec)).unlink()
    assert hub.resolve(NAME, kind="detector").is_file()


def test_the_next_source_is_tried_when_the_mirror_lacks_the_archive(fake_hub, monkeypatch):
    zip_bytes = onnx_sdk_zip()
    fallback = "{hf}/publisher/files/resolve/main/" + ARCHIVE_PATH
    spec = expect(monkeypatch, fake_hub, zip_bytes, sources=(registry.MODELS[NAME].sources[0], fallback))
    fake_hub.files.pop((MIRROR, ARCHIVE_PATH))
    fake_hub.add("publisher/files", ARCHIVE_PATH, zip_bytes)
    assert hub.resolve(NAME, kind="detector").read_bytes() == E2E
    assert [r.path.split("/")[1] for r in fake_hub.file_requests() if r.server == "hub"] == ["Tau-J", "publisher"]
    assert len(spec.sources) == 2


def test_every_source_failing_names_each_one(fake_hub, monkeypatch):
    spec = registry.MODELS[NAME]
    monkeypatch.setitem(registry.MODELS, NAME, dataclasses.replace(
        spec, sources=(spec.sources[0], "{hf}/publisher/files/resolve/main/" + ARCHIVE_PATH)))
    with pytest.raises(hub.DownloadError) as err:
        hub.resolve(NAME, kind="detector")
    assert "any of its sources" in str(err.value) and str(err.value).count("does not have it") == 2


def test_a_plain_file_from_a_release_url_gets_a_first_seen_hash(fake_hub, monkeypatch):
    """yolox_s.onnx has no published hash: Megvii's release asset (here served by the fake hub)."""
    det = make_detector(seed=3)
    fake_hub.add("Megvii/release", "yolox_s.onnx", det)
    spec = dataclasses.replace(registry.MODELS["yolox_s.onnx"],
                               sources=("{hf}/Megvii/release/resolve/main/yolox_s.onnx",))
    monkeypatch.setitem(registry.MODELS, "yolox_s.onnx", spec)
    path = hub.resolve("yolox_s", kind="detector")
    assert path.read_bytes() == det
    assert archives.first_seen(spec) == sha256(det)
    path.unlink()
    fake_hub.files[("Megvii/release", "yolox_s.onnx")] = make_detector(seed=4)
    with pytest.raises(hub.CorruptModelError, match="first download on this machine"):
        hub.resolve("yolox_s", kind="detector")


def test_registry_rows_for_every_detector_size():
    for variant, size in (("nano", 416), ("tiny", 416), ("s", 640), ("m", 640), ("l", 640), ("x", 640)):
        spec = hub.get_spec(f"yolox_{variant}")
        assert (spec.kind, spec.contract, spec.input_hw, spec.channel_order) == ("detector", "yolox", (size, size),
                                                                                 "bgr")
        if variant != "l":
            assert spec.url() == f"{registry.MEGVII_RELEASE}yolox_{variant}.onnx"
    assert hub.get_spec("yolox_l").repo_id == "yzd-v/DWPose"  # today's default, unchanged
    for name in ("yolox_m_humanart", "yolox_tiny_humanart", "rtmdet_m_person"):
        spec = hub.get_spec(name)
        assert spec.contract == "end2end" and spec.member == "end2end.onnx" and spec.archive.endswith(".zip")
        urls = spec.source_urls("https://huggingface.co")
        assert urls[0].startswith(f"https://huggingface.co/{MIRROR}/resolve/{registry.MMPOSE_MIRROR_REVISION}/")
        assert urls[1].startswith(registry.OPENMMLAB_PROJECTS) and urls[0].endswith(spec.archive)
    assert "non-commercial" in hub.get_spec("yolox_m_humanart").licence
    nas = hub.get_spec("yolo_nas_s_fp16.onnx")
    assert nas.supported and not nas.downloadable and "non-commercial" in nas.licence


def test_an_unreachable_mirror_does_not_stop_the_fallback_on_another_server(fake_hub, monkeypatch):
    """The mirror's host refuses connections; the fallback (another host: here the fake hub itself)
    is still tried at once, not skipped because "the hub" was just found unreachable."""
    zip_bytes = onnx_sdk_zip()
    fallback = fake_hub.url + "/publisher/files/resolve/main/" + ARCHIVE_PATH
    expect(monkeypatch, fake_hub, zip_bytes, sources=("http://127.0.0.1:9/" + ARCHIVE_PATH, fallback))
    fake_hub.add("publisher/files", ARCHIVE_PATH, zip_bytes)
    assert hub.resolve(NAME, kind="detector").read_bytes() == E2E
