"""The per-user cache folder, and the bound on the derived model files kept in it.

One folder per user holds everything the pack derives from model files - never the user's model
folders: ``$DWPOSE_CACHE_DIR``, else ``%LOCALAPPDATA%\\dwpose\\cache`` (Windows),
``~/Library/Caches/dwpose`` (macOS), ``$XDG_CACHE_HOME/dwpose`` or ``~/.cache/dwpose``. The hub's small
JSON records (downloads, verdicts) live there, and the derived model files: ONNX graphs with another
input size or a dynamic batch, ONNX Runtime's optimised graphs, the torch loader's fused copy of a
``.pth`` (``fused/``). Those are large (100-700 MB each), so they are bounded: after a new one is
written, the least recently used ones are deleted until the total is within ``DWPOSE_CACHE_LIMIT``
(default 2G; a number of bytes with an optional K/M/G/T suffix, ``0`` keeps only the newest file). A
derived file is rebuilt when needed again. "Used" is the file's access time, set explicitly on every
use (:func:`used`), so ``noatime`` mounts do not matter; modification times are left alone (the
graph records compare them).

This sits with the file readers (not in hub/) because the torch loader, which must not import the
hub, keeps its fused copies here too.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Iterable, Optional

log = logging.getLogger("dwpose")

ENV_CACHE = "DWPOSE_CACHE_DIR"
ENV_LIMIT = "DWPOSE_CACHE_LIMIT"
DEFAULT_LIMIT = "2G"
# Our derived files end in "-<16 hex>.onnx" or "-<16 hex>.fused.safetensors" (the tag of their source); a
# same-stem .json beside one is its record. Nothing else in the folder is ever counted or deleted, so a
# DWPOSE_CACHE_DIR pointed at a folder of models by mistake loses nothing.
_DERIVED = re.compile(r"^[^.].*-[0-9a-f]{16}(\.fused\.safetensors|\.onnx)$")
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
_warned: set[str] = set()


def cache_dir() -> Path:
    """The per-user cache folder (the rule in the module docstring); not created here."""
    value = os.environ.get(ENV_CACHE, "").strip()
    if value:
        return Path(os.path.expandvars(value)).expanduser()
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "dwpose" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "dwpose"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "dwpose"


def parse_size(text: str) -> int:
    """``"2G"``, ``"500M"``, ``"1.5GB"``, ``"123456"`` -> bytes (binary units). ValueError otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    if m is None:
        raise ValueError(text)
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def limit_setting() -> int:
    """DWPOSE_CACHE_LIMIT in bytes (default 2 GiB); an unreadable value warns once and uses the default."""
    raw = os.environ.get(ENV_LIMIT, "").strip()
    try:
        return parse_size(raw or DEFAULT_LIMIT)
    except ValueError:
        if raw not in _warned:
            _warned.add(raw)
            log.warning("DWPose: %s=%r is not a size (e.g. 2G, 500M); using %s.", ENV_LIMIT, raw, DEFAULT_LIMIT)
        return parse_size(DEFAULT_LIMIT)


def used(path: Path) -> None:
    """Mark a derived file as used now (its access time; the modification time is kept)."""
    try:
        st = os.stat(path)
        os.utime(path, ns=(time.time_ns(), st.st_mtime_ns))
    except OSError:
        pass


def _entries(root: Path) -> list[tuple[float, int, list[Path]]]:
    """(last use, bytes, [file, its record]) for every derived file under ``root``."""
    out = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if not _DERIVED.match(name):
                continue  # temporaries being written (".<name>.<pid>...") and others' files are left alone
            path = Path(folder) / name
            group = [path]
            record = path.with_suffix(".json")
            if record.is_file():
                group.append(record)
            try:
                st = path.stat()
                size = sum(p.stat().st_size for p in group)
            except OSError:
                continue
            out.append((st.st_atime, size, group))
    return out


def total_size(root: Optional[Path] = None) -> int:
    return sum(size for _t, size, _g in _entries(root or cache_dir()))


def evict(keep: Iterable[Path] = (), limit: Optional[int] = None, root: Optional[Path] = None) -> list[Path]:
    """Delete the least recently used derived files until they total at most ``limit`` (default: the
    setting); ``keep`` (the files in use now) is never deleted. Returns the files deleted."""
    root = root or cache_dir()
    limit = limit_setting() if limit is None else limit
    keep_set = {os.path.normcase(os.path.abspath(p)) for p in keep}
    entries = sorted(_entries(root), key=lambda e: e[0])
    total = sum(size for _t, size, _g in entries)
    removed: list[Path] = []
    freed = 0
    for _t, size, group in entries:
        if total <= limit:
            break
        if os.path.normcase(os.path.abspath(group[0])) in keep_set:
            continue
        try:
            for p in group:
                p.unlink()
        except OSError:  # in use by another process (Windows), or gone already
            continue
        total -= size
        freed += size
        removed.append(group[0])
    if removed:
        log.info("DWPose: the cache %s was over its limit (%s=%s); removed %d least recently used derived "
                 "file(s), %.0f MB: %s", root, ENV_LIMIT, os.environ.get(ENV_LIMIT) or DEFAULT_LIMIT,
                 len(removed), freed / 1e6, ", ".join(p.name for p in removed))
    return removed


def admit(path: Path, keep: Iterable[Path] = ()) -> list[Path]:
    """A derived file was just written: mark it used and bring the cache within its limit (``path`` and
    ``keep`` stay). Returns the files deleted."""
    used(path)
    return evict(keep=[path, *keep])
