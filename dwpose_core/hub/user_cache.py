"""Small JSON records the hub keeps per user, never in the user's model folders.

Folder (:func:`cache_dir`): ``$DWPOSE_CACHE_DIR``, else ``%LOCALAPPDATA%\\dwpose\\cache`` on Windows,
``~/Library/Caches/dwpose`` on macOS, ``$XDG_CACHE_HOME/dwpose`` (default ``~/.cache/dwpose``) elsewhere. Each record is one file named by a hash of the model file's
absolute path, written atomically; an unreadable or unwritable cache only loses the fast path.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Optional

from .digest import sha256_bytes

log = logging.getLogger("dwpose.hub")

ENV_CACHE = "DWPOSE_CACHE_DIR"


def cache_dir() -> Path:
    value = os.environ.get(ENV_CACHE, "").strip()
    if value:
        return Path(os.path.expandvars(value)).expanduser()
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "dwpose" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "dwpose"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "dwpose"


def absolute(path: Path) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):  # a symlink loop resolves to nothing
        return str(Path(path).absolute())


def record_file(kind: str, path: Path) -> Path:
    key = sha256_bytes(absolute(path).encode("utf-8", "surrogateescape"))[:32]
    return cache_dir() / kind / f"{key}.json"


def read(kind: str, path: Path) -> Optional[dict]:
    try:
        data = json.loads(record_file(kind, path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("path") != absolute(path):
        return None
    return data


def write(kind: str, path: Path, data: dict) -> None:
    target = record_file(kind, path)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({**data, "path": absolute(path)}), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        log.debug("DWPose: could not write %s (%s)", target, exc)
        try:
            tmp.unlink()
        except OSError:
            pass


def delete(kind: str, path: Path) -> None:
    try:
        record_file(kind, path).unlink()
    except OSError:
        pass
