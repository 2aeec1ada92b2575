"""Download a registry file from the Hugging Face hub (or HF_ENDPOINT), atomically, verified before use.

``GET {endpoint}/{repo_id}/resolve/main/{file}`` (the hub answers with a redirect to its CDN and
the file's LFS SHA-256 in ``X-Linked-Etag``). The body is written to a hidden temporary file next
to the target and hashed as it streams; only a complete file that passes verification (registry
size and SHA-256, else the server's hash, plus the structural check) is renamed into place. A
wrong file is downloaded once more, then deleted. A connection cut mid-body is resumed with
``Range``. Nothing else is written into the model folder: no lock files, no ``.cache`` folders;
the provenance record goes to the per-user cache.

Deadlines are http_client's (``DWPOSE_DOWNLOAD_TIMEOUT``, default 30 s): a hub that cannot be
reached fails in seconds, one that never answers within the timeout, and then - in this process -
every later download from the same endpoint fails at once with the same message, for
``UNREACHABLE_MEMORY_S`` (30) seconds, so a run asking for two models waits once.

Settings are read at call time: HF_ENDPOINT (mirrors), HF_HUB_OFFLINE, HF_TOKEN (or the token
``huggingface-cli login`` saved).
"""
from __future__ import annotations

import http.client
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Optional

from . import http_client, provenance
from .digest import Sha256
from .errors import CorruptModelError, DownloadError
from .messages import describe, placement_help, problems_text, searched_folders
from .registry import ModelSpec
from .verify import forget_verdicts, verify_file

log = logging.getLogger("dwpose.hub")

DEFAULT_ENDPOINT = "https://huggingface.co"
UNREACHABLE_MEMORY_S = 30.0
CHUNK = 1 << 20
MAX_RESUMES = 2
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TRUE = {"1", "ON", "YES", "TRUE"}

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_unreachable: dict[str, tuple[float, str]] = {}  # endpoint -> (when, why)


def endpoint() -> str:
    """HF_ENDPOINT as it is now."""
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


def token() -> Optional[str]:
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    path = os.environ.get("HF_TOKEN_PATH") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "token")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None


def forget_unreachable() -> None:
    _unreachable.clear()


# ---------------------------------------------------------------- download + verify

def fetch(spec: ModelSpec, dest_dir: Path, *, force: bool = False) -> Path:
    """Download ``spec`` into ``dest_dir`` and return the verified file (``force`` is kept for callers:
    every call downloads afresh).

    Raises DownloadError (refused, unreachable, timed out, interrupted: nothing kept) or
    CorruptModelError (what arrived twice was not the expected file: deleted).
    """
    dest_dir = Path(dest_dir)
    target = dest_dir / spec.filename
    with lock_for(str(target)):
        problems: list[tuple[Path, str]] = []
        for attempt in (1, 2):
            tmp, sha, server_sha = _transfer(spec, dest_dir)
            expected_sha = spec.sha256 or server_sha
            try:
                result = verify_file(tmp, spec=spec, expected_sha256=expected_sha, strict=True, known_sha256=sha)
            except BaseException:
                _unlink(tmp)
                raise
            if result.ok:
                os.replace(tmp, target)
                forget_verdicts(target)
                provenance.write_record(target, spec=spec, sha256=sha, url=file_url(spec))
                return target
            _unlink(tmp)
            what = "; ".join(result.problems)
            if spec.sha256 and server_sha and server_sha != spec.sha256:
                what += (f" (the server lists SHA-256 {server_sha[:12]}... for this file: it may have changed "
                         "upstream; place your copy by hand to use it anyway)")
            problems.append((target, what))
            log.warning("DWPose: the downloaded %s is not the expected file: %s.%s", target, what,
                        " Downloading it again." if attempt == 1 else "")
        provenance.forget(target)
        url = file_url(spec)
        raise CorruptModelError(
            f"{describe(spec)} was downloaded twice from {url} and was wrong both times, so it was deleted:\n"
            f"{problems_text(problems)}\n{placement_help(spec.filename, url)}",
            problems=problems, filename=spec.filename, searched=searched_folders(), url=url)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _fail(spec: ModelSpec, why: str, *, unreachable: bool = False) -> DownloadError:
    url = file_url(spec)
    return DownloadError(f"Could not download {describe(spec)} from {url}: {why}. Nothing partial was kept.\n"
                         f"{placement_help(spec.filename, url)}",
                         filename=spec.filename, searched=searched_folders(), url=url, unreachable=unreachable)


def _transfer(spec: ModelSpec, dest_dir: Path) -> tuple[Path, str, Optional[str]]:
    """(temporary file in dest_dir, its SHA-256, the server's SHA-256 if it said). The temporary file is
    removed on any failure, interruption included."""
    url = file_url(spec)
    base = endpoint()
    seen = _unreachable.get(base)
    if seen is not None and time.monotonic() - seen[0] < UNREACHABLE_MEMORY_S:
        raise _fail(spec, seen[1], unreachable=True)
    auth = f"Bearer {token()}" if token() else None
    headers = {"User-Agent": "dwpose-hub/1", "Accept-Encoding": "identity"}
    try:
        response = http_client.get(url, headers, auth=auth, auth_origin=http_client.origin(base))
    except http_client.HttpStatusError as exc:
        raise _fail(spec, _status_why(exc)) from None
    except (http_client.Unreachable, http_client.TimedOut) as exc:
        why = (f"the hub cannot be reached ({exc}); on a machine without internet set HF_HUB_OFFLINE=1 to skip "
               f"the attempt, or raise {http_client.ENV_TIMEOUT} (now {http_client.timeout_setting():g} s) on a "
               "slow link")
        _unreachable[base] = (time.monotonic(), why)
        raise _fail(spec, why, unreachable=True) from None
    except http_client.HttpFailure as exc:
        raise _fail(spec, str(exc)) from None
    server_sha = _linked_sha(response.first_headers) or _linked_sha(response.headers)
    announced = _linked_size(response.first_headers)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        response.close()
        raise DownloadError(
            f"Cannot create the download folder {dest_dir} ({exc}). Set DWPOSE_CKPTS_DIR to a writable "
            f"folder.\n{placement_help(spec.filename, url)}",
            filename=spec.filename, searched=searched_folders(), url=url) from None
    tmp = dest_dir / f".{spec.filename}.{os.getpid()}.{threading.get_ident()}.part"
    size = f" ({spec.size / 1e6:.0f} MB)" if spec.size else ""
    log.warning("DWPose: downloading %s%s from %s into %s", spec.filename, size, url, dest_dir)
    digest = Sha256()
    try:
        with open(tmp, "wb") as out:
            written = _stream(spec, response, out, digest, headers, auth, base, announced)
        if announced is not None and written != announced:
            raise _fail(spec, f"the server sent {written:,} bytes but announced {announced:,}")
    except BaseException:
        _unlink(tmp)
        raise
    return tmp, digest.hexdigest(), server_sha


def _stream(spec, response, out, digest, headers, auth, base, announced) -> int:
    """Write the body (resuming a cut connection with Range) and return the byte count."""
    written = 0
    resumes = 0
    while True:
        length = response.headers.get("content-length")
        expected_end = written + int(length) if length and length.isdigit() else None
        try:
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
            response.close()
            if expected_end is not None and written < expected_end:
                raise http.client.IncompleteRead(b"", expected_end - written)
            return written
        except http_client.TimedOut as exc:
            response.close()
            raise _fail(spec, str(exc), unreachable=True) from None
        except (OSError, http.client.HTTPException) as exc:
            response.close()
            if resumes >= MAX_RESUMES or (announced is not None and written >= announced):
                raise _fail(spec, f"the connection was cut after {written:,} bytes "
                                  f"({type(exc).__name__})") from None
            resumes += 1
            log.info("DWPose: the download of %s was cut after %d bytes; resuming.", spec.filename, written)
        try:
            response = http_client.get(file_url(spec), {**headers, "Range": f"bytes={written}-"}, auth=auth,
                                       auth_origin=http_client.origin(base))
        except http_client.HttpFailure as exc:
            raise _fail(spec, f"the connection was cut and resuming failed ({exc})") from None
        start = _range_start(response.headers.get("content-range", ""))
        if response.status != 206 or start != written:  # the server sent the whole file again
            out.seek(0)
            out.truncate()
            digest.__init__()
            written = 0


def _range_start(value: str) -> Optional[int]:
    m = re.match(r"bytes (\d+)-", value.strip())
    return int(m.group(1)) if m else None


def _linked_sha(headers: dict) -> Optional[str]:
    for name in ("x-linked-etag", "etag"):
        value = headers.get(name, "").strip().strip('"').lower()
        if value.startswith("w/"):
            value = value[2:].strip('"')
        if _SHA256.match(value):
            return value
    return None


def _linked_size(headers: dict) -> Optional[int]:
    value = headers.get("x-linked-size", "")
    return int(value) if value.isdigit() else None


def _status_why(exc: http_client.HttpStatusError) -> str:
    code = exc.headers.get("x-error-code", "")
    message = exc.headers.get("x-error-message", "")
    detail = f" ({message})" if message else ""
    if exc.status in (401, 403) or code == "GatedRepo":
        return f"access was refused{detail}; the repository may be gated: set HF_TOKEN to a token with access"
    if exc.status == 404 or code in ("RepoNotFound", "EntryNotFound", "RevisionNotFound"):
        return f"the server does not have it{detail}"
    return f"{exc}{detail}"
