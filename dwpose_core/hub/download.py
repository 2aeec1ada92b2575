"""Download a registry file with huggingface_hub, atomically, and verify it before anyone loads it.

huggingface_hub writes to a uniquely named temporary file and renames it into
place only when complete, so an interrupted download never leaves a file under
the model's name. It does not check SHA-256 on plain HTTP downloads, so we do:
against the registry, else against the server's LFS hash (the ETag it recorded
in ``<dir>/.cache/huggingface/download/<file>.metadata``). A mismatch gets one
more try with ``force_download=True`` (otherwise a corrupt file with a matching
recorded ETag is handed back as is); a second failure deletes the file.

A verified download leaves a small record (``<dir>/.cache/dwpose/<file>.json``)
so that later runs know the file was downloaded (and must match) and can skip
re-hashing while its size and mtime are unchanged.

Settings are read from the environment at call time: HF_ENDPOINT (mirrors),
HF_HUB_OFFLINE, HF_TOKEN (read by huggingface_hub on every request).
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Optional

from .errors import CorruptModelError, DownloadError
from .messages import describe, placement_help, problems_text, searched_folders
from .registry import ModelSpec
from .verify import sha256_file, verify_file

log = logging.getLogger("dwpose.hub")

DEFAULT_ENDPOINT = "https://huggingface.co"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TRUE = {"1", "ON", "YES", "TRUE"}

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def endpoint() -> str:
    """HF_ENDPOINT as it is now (huggingface_hub itself only reads it at import)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def is_offline() -> bool:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in _TRUE:
            return True
    return False


def file_url(spec: ModelSpec) -> str:
    return spec.url(endpoint())


def lock_for(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


# ---------------------------------------------------------------- provenance

def record_path(file: Path) -> Path:
    return file.parent / ".cache" / "dwpose" / f"{file.name}.json"


def read_record(file: Path) -> Optional[dict]:
    try:
        data = json.loads(record_path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("filename") != file.name:
        return None
    return data


def write_record(file: Path, *, spec: ModelSpec, sha256: str) -> None:
    st = file.stat()
    data = {"filename": file.name, "repo_id": spec.repo_id, "size": st.st_size, "sha256": sha256,
            "mtime_ns": st.st_mtime_ns, "official": spec.sha256 is None or spec.sha256 == sha256}
    path = record_path(file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # read-only folder: the file is still good, only the fast path is lost
        log.debug("DWPose: could not write %s (%s)", path, exc)


def forget(file: Path) -> None:
    """Remove a rejected file and everything recorded about it."""
    for path in (file, record_path(file), hf_metadata_path(file)):
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("DWPose: could not delete %s (%s); delete it by hand.", path, exc)


def hf_metadata_path(file: Path) -> Path:
    return file.parent / ".cache" / "huggingface" / "download" / f"{file.name}.metadata"


def hf_recorded_sha256(file: Path) -> Optional[str]:
    """The server's SHA-256 that huggingface_hub recorded for a ``local_dir`` download, if the file
    has not been modified since (the same rule huggingface_hub applies)."""
    try:
        lines = hf_metadata_path(file).read_text(encoding="utf-8").splitlines()
        etag, timestamp = lines[1].strip().strip('"').lower(), float(lines[2])
        if file.stat().st_mtime - 1 > timestamp:
            return None
    except (OSError, ValueError, IndexError):
        return None
    return etag if _SHA256.match(etag) else None


# ---------------------------------------------------------------- download

def fetch(spec: ModelSpec, dest_dir: Path, *, force: bool = False) -> Path:
    """Download ``spec`` into ``dest_dir`` and return the verified file.

    Raises DownloadError (refused, unreachable, interrupted: nothing kept) or
    CorruptModelError (what arrived twice was not the expected file: deleted).
    """
    dest_dir = Path(dest_dir)
    with lock_for(str(dest_dir / spec.filename)):
        problems: list[tuple[Path, str]] = []
        for attempt in (1, 2):
            path = _hf_download(spec, dest_dir, force=force or attempt > 1)
            server_sha = hf_recorded_sha256(path)
            expected_sha = spec.sha256 or server_sha
            result = verify_file(path, spec=spec, expected_sha256=expected_sha, strict=True)
            if result.ok:
                write_record(path, spec=spec, sha256=result.sha256 or sha256_file(path))
                return path
            what = "; ".join(result.problems)
            if spec.sha256 and server_sha and server_sha != spec.sha256:
                what += (f" (the server lists SHA-256 {server_sha[:12]}... for this file: it may have changed "
                         "upstream; place your copy by hand to use it anyway)")
            problems.append((path, what))
            log.warning("DWPose: the downloaded %s is not the expected file: %s.%s", path, what,
                        " Downloading it again." if attempt == 1 else "")
        forget(path)
        url = file_url(spec)
        raise CorruptModelError(
            f"{describe(spec)} was downloaded twice from {url} and was wrong both times, so it was deleted:\n"
            f"{problems_text(problems)}\n{placement_help(spec.filename, url)}",
            problems=problems, filename=spec.filename, searched=searched_folders(), url=url)


def _hf_download(spec: ModelSpec, dest_dir: Path, *, force: bool) -> Path:
    from .locate import hf_cache_dir

    url = file_url(spec)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"Cannot create the download folder {dest_dir} ({exc}). Set DWPOSE_CKPTS_DIR to a writable "
            f"folder.\n{placement_help(spec.filename, url)}",
            filename=spec.filename, searched=searched_folders(), url=url) from exc
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise DownloadError(
            f"huggingface_hub is not installed, so {spec.filename} cannot be downloaded "
            f"(pip install huggingface_hub).\n{placement_help(spec.filename, url)}",
            filename=spec.filename, searched=searched_folders(), url=url) from exc
    size = f" ({spec.size / 1e6:.0f} MB)" if spec.size else ""
    log.warning("DWPose: downloading %s%s from %s into %s", spec.filename, size, url, dest_dir)
    try:
        path = hf_hub_download(spec.repo_id, spec.filename, local_dir=str(dest_dir),
                               cache_dir=str(hf_cache_dir()), force_download=force, endpoint=endpoint())
    except Exception as exc:  # every failure becomes one clear message; KeyboardInterrupt passes
        raise DownloadError(
            f"Could not download {describe(spec)} from {url}: {_why(exc)}. Nothing partial was kept.\n"
            f"{placement_help(spec.filename, url)}",
            filename=spec.filename, searched=searched_folders(), url=url) from exc
    return Path(path)


def _why(exc: Exception) -> str:
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if names & {"OfflineModeIsEnabled", "LocalEntryNotFoundError"}:
        return (f"the Hub is unreachable or offline mode is on ({text}); on a machine without internet set "
                "HF_HUB_OFFLINE=1 to skip the attempt")
    if names & {"GatedRepoError"}:
        return f"the repository is gated; set HF_TOKEN to a token with access ({text})"
    if names & {"RepositoryNotFoundError", "RevisionNotFoundError", "EntryNotFoundError"}:
        return f"the server does not have it ({text})"
    if names & {"ConnectError", "ConnectionError", "TimeoutException", "Timeout"}:
        return f"the server cannot be reached ({text})"
    return f"{type(exc).__name__}: {text}"
