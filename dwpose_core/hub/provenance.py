"""Where a file came from: the records a download leaves, and the ones huggingface_hub leaves.

* Our record (in the per-user cache, see user_cache): written after a verified
  download; says the file was downloaded from ``repo_id`` with this SHA-256, size
  and mtime, so later runs know it must match and can skip re-hashing while
  size and mtime are unchanged.
* huggingface_hub's ``<dir>/.cache/huggingface/download/<file>.metadata`` (left by
  comfyui_controlnet_aux or older versions of this pack): the server's SHA-256.
* A blob in the Hugging Face cache is named by its SHA-256.
The trust policy (trust.py) decides what each origin must satisfy.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import user_cache
from .registry import ModelSpec

log = logging.getLogger("dwpose.hub")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
KIND = "downloads"


@dataclass(frozen=True)
class DownloadRecord:
    filename: str
    repo_id: str
    url: str
    size: int
    mtime_ns: int
    sha256: str
    official: bool

    def unchanged(self, path: Path) -> bool:
        try:
            st = path.stat()
        except OSError:
            return False
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns


def read_record(file: Path) -> Optional[DownloadRecord]:
    data = user_cache.read(KIND, file)
    if data is None or data.get("filename") != file.name:
        return None
    try:
        return DownloadRecord(str(data["filename"]), str(data["repo_id"]), str(data.get("url", "")),
                              int(data["size"]), int(data["mtime_ns"]), str(data["sha256"]), bool(data["official"]))
    except (KeyError, TypeError, ValueError):
        return None


def write_record(file: Path, *, spec: ModelSpec, sha256: str, url: str) -> None:
    st = file.stat()
    user_cache.write(KIND, file, {
        "filename": file.name, "repo_id": spec.repo_id, "url": url, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "sha256": sha256, "official": spec.sha256 is None or spec.sha256 == sha256})


def forget(file: Path) -> None:
    """Remove a rejected file and everything recorded about it."""
    user_cache.delete(KIND, file)
    for path in (file, hf_metadata_path(file)):
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


def hf_cache_blob_sha256(file: Path) -> Optional[str]:
    """A file in the Hugging Face cache is a link to ``blobs/<sha256>`` (LFS files)."""
    try:
        blob = file.resolve().name
    except (OSError, RuntimeError):
        return None
    return blob if _SHA256.match(blob) else None
