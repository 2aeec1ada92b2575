"""Downloads that are not one plain Hugging Face file: several sources, zip archives, first-seen hashes.

* Sources: a registry row lists its URLs best first (``ModelSpec.sources``: the Hugging Face mirror,
  then the publisher); a source that cannot deliver the right file hands over to the next one.
* Zip archives (OpenMMLab's mmdeploy "onnx_sdk" zips: ``end2end.onnx`` + ``pipeline.json`` + two
  other JSON files, in a dated sub-folder): the archive is transferred by download.py (same deadlines,
  resumption and atomic temporary file as every download), its size and SHA-256 checked, and only the
  model member and its sidecars are extracted, under the registry's names (``yolox_m_humanart.onnx``,
  ``yolox_m_humanart.pipeline.json``) into the download folder; the archive itself is deleted.
  Member names never become paths: the output names are ours, so nothing can land outside the folder,
  and an archive with a member name that climbs out (``../x``, ``/etc/x``, ``C:x``) is refused as a
  whole. A zip bomb is refused before it is inflated (declared sizes against limits and the
  registry's size, compression ratio) and, should a header lie, while inflating (bytes counted).
* First-seen hashes: where no SHA-256 is published (``sha256``/``archive_sha256`` None), the hash of
  the first download is recorded in the per-user cache (user_cache.py, ``first_seen``), and a later
  download that differs is refused, naming the record to delete to accept the new file.

The standard library's zipfile reads the archive; what it does not do is refuse hostile archives (it
extracts ``..`` members with their name sanitised and inflates whatever a header claims), so the
checks are written here.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import threading
import zipfile
from pathlib import Path, PurePosixPath
from typing import Optional

from . import download as dl
from . import provenance, user_cache
from .digest import Sha256
from .errors import CorruptModelError, DownloadError
from .messages import describe, placement_help, problems_text, searched_folders
from .registry import ModelSpec
from .verify import forget_verdicts, verify_file

log = logging.getLogger("dwpose.hub")

FIRST_SEEN = "first_seen"
MAX_MEMBERS = 1000  # an onnx_sdk zip has 4 files
MAX_MODEL_BYTES = 4 << 30  # the largest model in the registry is ~0.4 GB
MAX_SIDECAR_BYTES = 1 << 20  # pipeline.json is ~2 KB
MAX_RATIO = 50.0  # inflated / compressed bytes: ONNX weights compress ~1.1x, a bomb 1000x
SMALL = 1 << 20  # below this, any ratio is harmless (small JSON files compress well)
CHUNK = 1 << 20


class ArchiveError(CorruptModelError):
    """A downloaded archive is not the expected one, or is hostile (bomb, members outside its folder)."""


# ---------------------------------------------------------------- entry point

def fetch_model(spec: ModelSpec, dest_dir: Path) -> Path:
    """Download ``spec`` (a plain file or a model inside an archive) from its sources, best first, into
    ``dest_dir`` and return the verified model file. Raises DownloadError / CorruptModelError."""
    dest_dir = Path(dest_dir)
    urls = spec.source_urls(dl.endpoint())
    failures: list[tuple[str, BaseException]] = []
    with dl.lock_for("sources:" + str(dest_dir / spec.filename)):
        for url in urls:
            one = dataclasses.replace(spec, sources=(url,))
            try:
                if spec.archive:
                    return _fetch_archive_model(one, dest_dir, url)
                return _fetch_file(one, dest_dir, url)
            except (DownloadError, CorruptModelError) as exc:
                failures.append((url, exc))
                if len(urls) > 1:
                    log.warning("DWPose: %s could not be used (%s); trying the next source.", url,
                                str(exc).splitlines()[0])
    if len(failures) == 1:
        raise failures[0][1]
    lines = "\n".join(f"  {url}: {str(exc).splitlines()[0]}" for url, exc in failures)
    kind = CorruptModelError if all(isinstance(e, CorruptModelError) for _, e in failures) else DownloadError
    raise kind(f"{describe(spec)} could not be downloaded from any of its sources:\n{lines}\n"
               f"{placement_help(spec.filename, urls[0])}",
               filename=spec.filename, searched=searched_folders(), url=urls[0])


# ---------------------------------------------------------------- first-seen hashes

def first_seen_key(spec: ModelSpec) -> str:
    """One record per file, whichever source served it: every source must serve the same bytes."""
    return f"{spec.filename} in {spec.archive}" if spec.archive else spec.filename


def first_seen(spec: ModelSpec) -> Optional[str]:
    record = user_cache.read_key(FIRST_SEEN, first_seen_key(spec))
    sha = record.get("sha256") if record else None
    return sha if isinstance(sha, str) and len(sha) == 64 else None


def _remember_first(spec: ModelSpec, url: str, sha: str, size: int) -> None:
    user_cache.write_key(FIRST_SEEN, first_seen_key(spec), {"sha256": sha, "size": size, "url": url})


def _changed_message(spec: ModelSpec, url: str, seen: str, got: Optional[str]) -> str:
    record = user_cache.key_file(FIRST_SEEN, first_seen_key(spec))
    now = f" ({got[:12]}...)" if got else ""
    return (f"{url} now serves a file whose SHA-256{now} differs from the one recorded at its first "
            f"download on this machine ({seen[:12]}...); it was refused. If the publisher replaced it on "
            f"purpose, delete {record} to accept the new file")


# ---------------------------------------------------------------- plain files (Megvii release assets)

def _fetch_file(spec: ModelSpec, dest_dir: Path, url: str) -> Path:
    seen = None if spec.sha256 else first_seen(spec)
    try:
        path = dl.fetch(dataclasses.replace(spec, sha256=spec.sha256 or seen), dest_dir)
    except CorruptModelError as exc:
        if seen:
            raise CorruptModelError(_changed_message(spec, url, seen, None) + f".\n{exc}",
                                    problems=exc.problems, filename=spec.filename, searched=searched_folders(),
                                    url=url) from None
        raise
    if not spec.sha256 and not seen:
        record = provenance.read_record(path)
        if record is not None:
            _remember_first(spec, url, record.sha256, record.size)
    return path


# ---------------------------------------------------------------- archives

def _fetch_archive_model(spec: ModelSpec, dest_dir: Path, url: str) -> Path:
    archive_spec = dataclasses.replace(spec, filename=spec.archive, size=spec.archive_size,
                                       sha256=spec.archive_sha256, archive=None, sidecars=(), member=None)
    seen = None if spec.archive_sha256 else first_seen(spec)
    problems: list[tuple[Path, str]] = []
    for attempt in (1, 2):
        tmp, sha, server_sha = dl.fetch_to_temp(archive_spec, dest_dir)
        try:
            size = tmp.stat().st_size
            expected = spec.archive_sha256 or seen or server_sha
            if spec.archive_size is not None and size != spec.archive_size:
                why = f"the archive is {size:,} bytes, the official one {spec.archive_size:,} bytes"
            elif expected and sha != expected.lower():
                if seen and not spec.archive_sha256:
                    raise ArchiveError(_changed_message(spec, url, seen, sha) + ".", filename=spec.filename,
                                       searched=searched_folders(), url=url)
                why = f"the archive's SHA-256 is {sha[:12]}..., the expected {expected[:12]}..."
            else:
                target = extract_model(tmp, spec, dest_dir, url=url)
                if not spec.archive_sha256 and not seen:
                    _remember_first(spec, url, sha, size)
                return target
        finally:
            _unlink(tmp)
        problems.append((dest_dir / spec.archive, why))
        log.warning("DWPose: the downloaded %s is not the expected archive: %s.%s", spec.archive, why,
                    " Downloading it again." if attempt == 1 else "")
    raise ArchiveError(f"{describe(spec)}: the archive {spec.archive} was downloaded twice from {url} and was "
                       f"wrong both times, so it was deleted:\n{problems_text(problems)}\n"
                       f"{placement_help(spec.filename, url)}",
                       problems=problems, filename=spec.filename, searched=searched_folders(), url=url)


def unsafe_member_name(name: str) -> bool:
    """True for a member name that would leave the folder it is extracted into (or is not a plain name)."""
    if not name or "\x00" in name or name.startswith(("/", "\\")):
        return True
    parts = name.replace("\\", "/").split("/")
    return ".." in parts or (len(parts[0]) >= 2 and parts[0][1] == ":")


def _basename(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).name


def choose_members(infos: list[zipfile.ZipInfo], spec: ModelSpec, archive_name: str) -> list[tuple[zipfile.ZipInfo, str, int]]:
    """(member, name to write, byte limit) for the model and each sidecar; ArchiveError when the archive is
    hostile or lacks them. Nothing is inflated here."""
    def refuse(why: str):
        raise ArchiveError(f"{archive_name} {why}; it was refused and nothing was extracted.",
                           filename=spec.filename, searched=searched_folders())

    if len(infos) > MAX_MEMBERS:
        refuse(f"has {len(infos)} members (an onnx_sdk archive has a handful)")
    for info in infos:
        if unsafe_member_name(info.filename):
            refuse(f"has a member named {info.filename!r} that points outside its folder")
    files = [i for i in infos if not i.is_dir()]
    models = [i for i in files if _basename(i.filename) == spec.member]
    if len(models) != 1:
        refuse(f"has {'no' if not models else len(models)} member(s) named {spec.member!r}"
               f" (members: {', '.join(i.filename for i in files[:6]) or 'none'})")
    model = models[0]
    folder = str(PurePosixPath(model.filename.replace("\\", "/")).parent)
    chosen = [(model, spec.filename, MAX_MODEL_BYTES)]
    for member, out_name in spec.sidecars:
        found = [i for i in files if _basename(i.filename) == member]
        near = [i for i in found if str(PurePosixPath(i.filename.replace("\\", "/")).parent) == folder]
        pick = near or found
        if len(pick) != 1:
            refuse(f"has {'no' if not pick else len(pick)} member(s) named {member!r} next to {model.filename}")
        chosen.append((pick[0], out_name, MAX_SIDECAR_BYTES))
    for info, _, limit in chosen:
        if info.flag_bits & 0x1:
            refuse(f"has an encrypted member {info.filename!r}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            refuse(f"stores {info.filename!r} with compression method {info.compress_type}, not stored/deflate")
        if info.file_size > limit:
            refuse(f"declares {info.filename!r} as {info.file_size:,} bytes, more than the {limit:,} allowed")
        if info is model and spec.size is not None and info.file_size != spec.size:
            refuse(f"declares {info.filename!r} as {info.file_size:,} bytes; the model is {spec.size:,} bytes")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > SMALL and ratio > MAX_RATIO:
            refuse(f"would inflate {info.filename!r} {ratio:,.0f}-fold ({info.compress_size:,} -> "
                   f"{info.file_size:,} bytes): a zip bomb")
    return chosen


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, out_path: Path, archive_name: str,
             spec: ModelSpec) -> str:
    """Write one member to ``out_path`` counting bytes against its declared size; its SHA-256."""
    digest = Sha256()
    written = 0
    with zf.open(info) as src, open(out_path, "wb") as out:
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            written += len(chunk)
            if written > info.file_size:
                raise ArchiveError(f"{archive_name}: {info.filename!r} inflates beyond its declared "
                                   f"{info.file_size:,} bytes (a zip bomb); it was refused.",
                                   filename=spec.filename, searched=searched_folders())
            out.write(chunk)
            digest.update(chunk)
    if written != info.file_size:
        raise ArchiveError(f"{archive_name}: {info.filename!r} inflated to {written:,} bytes, not the declared "
                           f"{info.file_size:,}; the archive is damaged.", filename=spec.filename,
                           searched=searched_folders())
    return digest.hexdigest()


def extract_model(archive: Path, spec: ModelSpec, dest_dir: Path, *, url: Optional[str] = None) -> Path:
    """Extract ``spec.member`` (as ``spec.filename``) and its sidecars from the zip ``archive`` into
    ``dest_dir``, verify the model (size, SHA-256, structure), and move them into place together.
    Returns the model's path. Raises ArchiveError; nothing is left behind on failure."""
    archive = Path(archive)
    dest_dir = Path(dest_dir)
    name = spec.archive or archive.name
    temps: list[tuple[Path, Path]] = []
    tag = f"{os.getpid()}.{threading.get_ident()}"
    try:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ArchiveError(f"{name} is not a readable zip archive ({exc}); it was refused.",
                               filename=spec.filename, searched=searched_folders(), url=url) from None
        with zf:
            chosen = choose_members(zf.infolist(), spec, name)
            hashes = []
            for info, out_name, _ in chosen:
                tmp = dest_dir / f".{out_name}.{tag}.part"
                temps.append((tmp, dest_dir / out_name))
                try:
                    hashes.append(_inflate(zf, info, tmp, name, spec))
                except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
                    raise ArchiveError(f"{name}: {info.filename!r} does not inflate ({exc}); the archive is "
                                       "damaged.", filename=spec.filename, searched=searched_folders(),
                                       url=url) from None
        model_tmp, target = temps[0]
        result = verify_file(model_tmp, spec=spec, expected_sha256=spec.sha256, strict=True,
                             known_sha256=hashes[0])
        if not result.ok:
            raise ArchiveError(f"{name}: its {spec.member} is not {spec.filename}: {'; '.join(result.problems)}.",
                               problems=[(target, "; ".join(result.problems))], filename=spec.filename,
                               searched=searched_folders(), url=url)
        for tmp, final in temps[1:] + temps[:1]:  # the model last: it is what resolution looks for
            os.replace(tmp, final)
        forget_verdicts(target)
        provenance.write_record(target, spec=spec, sha256=hashes[0], url=url or spec.url(dl.endpoint()))
        log.warning("DWPose: extracted %s from %s into %s", spec.filename, name, dest_dir)
        return target
    finally:
        for tmp, _ in temps:
            _unlink(tmp)


def sidecar_paths(spec: ModelSpec, model_path: Path) -> list[Path]:
    """Where ``spec``'s extracted sidecars sit next to ``model_path``."""
    return [Path(model_path).with_name(out_name) for _, out_name in spec.sidecars]


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
