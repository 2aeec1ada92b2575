"""Download a registry file from the Hugging Face hub (or HF_ENDPOINT), atomically, verified before use.

``GET {endpoint}/{repo_id}/resolve/main/{file}`` (the hub answers with a redirect to its CDN and
the file's LFS SHA-256 in ``X-Linked-Etag``). The body is written to a hidden temporary file next
to the target and hashed as it streams; only a complete file that passes verification (registry
size and SHA-256, else the server's hash, plus the structural check) is renamed into place. A
wrong file is downloaded once more, then deleted. A connection cut mid-body is resumed with
``Range``. Nothing else is written into the model folder: no lock files, no ``.cache`` folders;
the provenance record goes to the per-user cache.

Deadlines are http_client's (``DWPOSE_DOWNLOAD_TIMEOUT``, default 30 s, for the answer and any
stall; ``DWPOSE_DOWNLOAD_MIN_RATE``, default 20 kB/s, for the body, with a total deadline from the
size): a hub that cannot be reached fails in seconds, one that never answers within the timeout,
and then - in this process - every later download from the same endpoint fails at once with the
same message, for ``UNREACHABLE_MEMORY_S`` (30) seconds, so a run asking for two models waits once.

Progress (size, rate, time left): a tqdm bar on stderr when it is a terminal and warnings are shown
(``-q`` hides it), or whatever :func:`set_progress_factory` installed (the ComfyUI nodes connect
``comfy.utils.ProgressBar``). A temporary file left by a killed download (``.<name>.<PID>.<TID>.part``)
is removed by the next download into that folder once its process is gone.

Settings are read at call time: HF_ENDPOINT (mirrors), HF_HUB_OFFLINE, HF_TOKEN (or the token
``huggingface-cli login`` saved).
"""
from __future__ import annotations

import http.client
import logging
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from . import http_client, locate, provenance
from .digest import Sha256
from .errors import CorruptModelError, DownloadError
from .messages import describe, placement_help, problems_text, searched_folders
from .registry import ModelSpec
from .verify import forget_verdicts, verify_file

log = logging.getLogger("dwpose.hub")

UNREACHABLE_MEMORY_S = 30.0
CHUNK = 1 << 20
MAX_RESUMES = 2
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TRUE = {"1", "ON", "YES", "TRUE"}

_PART = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<tid>\d+)\.part$")
PROGRESS_INTERVAL_S = 0.1  # at most this often a progress bar is told

ProgressFactory = Callable[[Optional[int], str], Any]
_progress_factory: Optional[ProgressFactory] = None  # None: the default (tqdm on a terminal)

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_unreachable: dict[str, tuple[float, str]] = {}  # server (scheme://host:port) -> (when, why)


endpoint = locate.endpoint  # HF_ENDPOINT as it is now


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


# ---------------------------------------------------------------- progress

def set_progress_factory(factory: Optional[ProgressFactory]) -> Optional[ProgressFactory]:
    """Show download progress through ``factory(total_bytes or None, label)``, which returns an object
    with ``update(n_bytes)`` (and optionally ``close()``), or None for no progress. ``None`` restores the
    default (tqdm on stderr). Returns the previous factory. ComfyUI:
    ``set_progress_factory(lambda total, label: comfy.utils.ProgressBar(total or 0))`` (its hook raising
    on an interrupt cancels the download; nothing partial is kept)."""
    global _progress_factory
    previous, _progress_factory = _progress_factory, factory
    return previous


def _tqdm_bar(total: Optional[int], label: str):
    """tqdm on stderr: hidden when stderr is not a terminal (tqdm's own rule) or warnings are off (-q)."""
    if not log.isEnabledFor(logging.WARNING):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                disable=None, dynamic_ncols=True)


class _Progress:
    """Feeds a progress object at most every PROGRESS_INTERVAL_S (a ComfyUI bar sends a websocket message
    per update; 217 MB arrive in a few thousand reads)."""

    def __init__(self, total: Optional[int], label: str):
        factory = _progress_factory or _tqdm_bar
        self.bar = factory(total, label)
        self.pending = 0
        self.last = time.monotonic()

    def advance(self, n: int) -> None:
        if self.bar is None:
            return
        self.pending += n
        now = time.monotonic()
        if now - self.last >= PROGRESS_INTERVAL_S:
            self.bar.update(self.pending)
            self.pending, self.last = 0, now

    def close(self) -> None:
        if self.bar is None:
            return
        bar, self.bar = self.bar, None
        try:
            if self.pending:
                bar.update(self.pending)
        finally:
            close = getattr(bar, "close", None)
            if callable(close):
                close()


# ---------------------------------------------------------------- stale temporaries

def _process_alive(pid: int) -> bool:
    """Is there a process ``pid`` on this machine? Never signals it (os.kill(pid, 0) on POSIX; on Windows
    os.kill would terminate it, so the process is opened and its exit code asked)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it exists
        try:
            code = ctypes.c_ulong()
            return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or a number the OS rejects: leave it alone)
    return True


def remove_stale_parts(folder: Path) -> list[Path]:
    """Delete the ``.<name>.<PID>.<TID>.part`` files in ``folder`` whose download is no longer running
    (its process is gone, or, for this process, its thread is). Other files are never touched."""
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    threads = {t.ident for t in threading.enumerate()}
    for name in names:
        m = _PART.match(name)
        if m is None:
            continue
        pid, tid = int(m.group("pid")), int(m.group("tid"))
        if _process_alive(pid) and (pid != os.getpid() or tid in threads):
            continue
        try:
            (Path(folder) / name).unlink()
            removed.append(Path(folder) / name)
        except OSError:
            pass
    if removed:
        log.info("DWPose: removed %d unfinished download(s) left in %s by a stopped process: %s", len(removed),
                 folder, ", ".join(p.name for p in removed))
    return removed


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
    server = http_client.origin(url)  # remembered per server: the next source (another host) is still tried
    seen = _unreachable.get(server)
    if seen is not None and time.monotonic() - seen[0] < UNREACHABLE_MEMORY_S:
        raise _fail(spec, seen[1], unreachable=True)
    auth = f"Bearer {token()}" if token() else None
    headers = {"User-Agent": "dwpose-hub/1", "Accept-Encoding": "identity"}
    try:
        response = http_client.get(url, headers, auth=auth, auth_origin=http_client.origin(base))
    except http_client.HttpStatusError as exc:
        raise _fail(spec, _status_why(exc)) from None
    except http_client.TimedOut as exc:
        why = (f"the hub was reached but {exc}; raise {http_client.ENV_TIMEOUT} (now "
               f"{http_client.timeout_setting():g} s, at most {http_client.MAX_TIMEOUT:g}) on a slow link, or on a "
               "machine without internet set HF_HUB_OFFLINE=1 to skip the attempt")
        _unreachable[server] = (time.monotonic(), why)
        raise _fail(spec, why, unreachable=True) from None
    except http_client.Unreachable as exc:
        mirror = " use a mirror (HF_ENDPOINT)," if url.startswith(base + "/") else ""  # only for Hugging Face files
        who = "the hub" if mirror else "the server"
        why = (f"{who} cannot be reached ({exc}); check the network or proxy settings,{mirror} or on a machine "
               "without internet set HF_HUB_OFFLINE=1 to skip the attempt")
        _unreachable[server] = (time.monotonic(), why)
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
    remove_stale_parts(dest_dir)
    tmp = dest_dir / f".{spec.filename}.{os.getpid()}.{threading.get_ident()}.part"
    total = announced or spec.size or _content_length(response.headers)
    size = f" ({total / 1e6:.0f} MB)" if total else ""
    log.warning("DWPose: downloading %s%s from %s into %s", spec.filename, size, url, dest_dir)
    digest = Sha256()
    progress = None
    try:
        progress = _Progress(total, spec.filename)
        pace = http_client.BodyPace(total)
        with open(tmp, "wb") as out:
            written = _stream(spec, response, out, digest, headers, auth, base, announced, pace, progress)
        if announced is not None and written != announced:
            raise _fail(spec, f"the server sent {written:,} bytes but announced {announced:,}")
    except BaseException:
        response.close()
        _unlink(tmp)
        raise
    finally:
        if progress is not None:
            progress.close()
    return tmp, digest.hexdigest(), server_sha


def _content_length(headers: dict) -> Optional[int]:
    value = headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def _stream(spec, response, out, digest, headers, auth, base, announced, pace, progress) -> int:
    """Write the body (resuming a cut connection with Range) and return the byte count. ``pace``
    (http_client.BodyPace) enforces the minimum rate and the deadline; ``progress`` is told each chunk."""
    written = 0
    arrived = 0  # over every connection, for the pace
    resumes = 0
    while True:
        length = response.headers.get("content-length")
        expected_end = written + int(length) if length and length.isdigit() else None
        try:
            while True:
                chunk = response.read_some(CHUNK, pace.read_wait())
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
                arrived += len(chunk)
                progress.advance(len(chunk))
                pace.check(arrived)
            response.close()
            if expected_end is not None and written < expected_end:
                raise http.client.IncompleteRead(b"", expected_end - written)
            return written
        except http_client.TimedOut as exc:
            response.close()
            why = str(exc)
            if not isinstance(exc, http_client.TooSlow):
                try:  # a read cut short by the deadline is reported as the deadline
                    pace.check_deadline(arrived)
                except http_client.TooSlow as slow:
                    why = str(slow)
            raise _fail(spec, why, unreachable=True) from None
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


# ---------------------------------------------------------------- hook for archives.py

def fetch_to_temp(spec: ModelSpec, dest_dir: Path) -> tuple[Path, str, Optional[str]]:
    """Transfer ``spec.url(endpoint())`` into a hidden temporary file in ``dest_dir`` with this module's
    deadlines, resumption and messages, verifying nothing: (temporary file, its SHA-256, the server's
    SHA-256 if it said). The caller checks the bytes, then renames or deletes the file. Used for zip
    archives (hub/archives.py), whose contents are checked after extraction."""
    return _transfer(spec, Path(dest_dir))
