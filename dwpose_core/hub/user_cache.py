"""Small JSON records the hub keeps per user, never in the user's model folders.

Folder (:func:`cache_dir`, the rule is in :mod:`dwpose_core.checkpoints.derived_cache`): ``$DWPOSE_CACHE_DIR``,
else ``%LOCALAPPDATA%\\dwpose\\cache`` on Windows, ``~/Library/Caches/dwpose`` on macOS,
``$XDG_CACHE_HOME/dwpose`` (default ``~/.cache/dwpose``) elsewhere. Each record is one file named by a hash of
the model file's absolute path, written atomically; an unreadable or unwritable cache only loses the fast path.
The records are small and never evicted; the large derived files beside them are bounded (DWPOSE_CACHE_LIMIT).
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Optional

from ..checkpoints import derived_cache
from .digest import sha256_bytes

log = logging.getLogger("dwpose.hub")

ENV_CACHE = derived_cache.ENV_CACHE


def cache_dir() -> Path:
    """The per-user cache folder; one rule for the pack (:mod:`dwpose_core.checkpoints.derived_cache`)."""
    return derived_cache.cache_dir()


def absolute(path: Path) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):  # a symlink loop resolves to nothing
        return str(Path(path).absolute())


def record_file(kind: str, path: Path) -> Path:
    key = sha256_bytes(absolute(path).encode("utf-8", "surrogateescape"))[:32]
    return cache_dir() / kind / f"{key}.json"


def _read_record(target: Path, field: str, value: str) -> Optional[dict]:
    """The JSON record at ``target`` when it is an object whose ``field`` is ``value`` (else None: a
    missing, unreadable or colliding record is no record)."""
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get(field) == value else None


def _write_record(target: Path, data: dict) -> None:
    """Write atomically; a record that cannot be written is only a lost shortcut (debug log)."""
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        log.debug("DWPose: could not write %s (%s)", target, exc)
        try:
            tmp.unlink()
        except OSError:
            pass


def read(kind: str, path: Path) -> Optional[dict]:
    return _read_record(record_file(kind, path), "path", absolute(path))


def write(kind: str, path: Path, data: dict) -> None:
    _write_record(record_file(kind, path), {**data, "path": absolute(path)})


def delete(kind: str, path: Path) -> None:
    try:
        record_file(kind, path).unlink()
    except OSError:
        pass


# ---------------------------------------------------------------- records keyed by a name, not a file

def key_file(kind: str, key: str) -> Path:
    """Where the record saved under ``key`` lives."""
    return cache_dir() / kind / f"{sha256_bytes(key.encode('utf-8'))[:32]}.json"


def read_key(kind: str, key: str) -> Optional[dict]:
    """The record saved under ``key`` (e.g. a download URL's first-seen hash), or None."""
    return _read_record(key_file(kind, key), "key", key)


def write_key(kind: str, key: str, data: dict) -> None:
    _write_record(key_file(kind, key), {**data, "key": key})
