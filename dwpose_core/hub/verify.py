"""Is this file the model it claims to be? Size, SHA-256 and the structural check (structure.py).

``strict`` decides what a size or hash difference means: for a file we (or
huggingface_hub) downloaded it is corruption; for a file a user placed by hand
it is a warning, because fine-tuned variants exist (trust.py picks which).

Verdicts are remembered: within a process until the file's size or mtime
changes, and across processes in a small JSON record per file in the per-user
cache (user_cache.py), so the next run skips hashing and parsing an unchanged
file. A changed file (other size or mtime) is verified again.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from . import user_cache
from .digest import sha256_file
from .registry import ModelSpec
from .structure import CHECK_VERSION, check_structure, file_format, torch_available  # noqa: F401 re-export

log = logging.getLogger("dwpose.hub")

VERDICTS = "verified"


@dataclass
class VerifyResult:
    path: Path
    problems: list[str] = field(default_factory=list)  # any problem = do not load
    warnings: list[str] = field(default_factory=list)  # usable, but not the official file
    sha256: Optional[str] = None  # when it was computed
    kind: Optional[str] = None  # detector / pose, as the file's structure says

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return "; ".join(self.problems or self.warnings) or "ok"


def verify_file(path: Path, *, spec: Optional[ModelSpec] = None, kind: Optional[str] = None,
                expected_size: Optional[int] = None, expected_sha256: Optional[str] = None,
                strict: bool = False, known_sha256: Optional[str] = None) -> VerifyResult:
    """Check ``path``; expected size/hash default to the registry's official values.

    ``known_sha256``: the file's hash when the caller already computed it (a download hashes
    while it writes), so the file is not read a second time for it.
    """
    path = Path(path)
    result = VerifyResult(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        result.problems.append(f"it cannot be read ({exc})")
        return result
    if size == 0:
        result.problems.append("it is empty (0 bytes)")
        return result
    if expected_size is None and spec is not None:
        expected_size = spec.size
    if expected_sha256 is None and spec is not None:
        expected_sha256 = spec.sha256
    size_note = None
    if expected_size is not None and size != expected_size:
        size_note = f"it is {size:,} bytes but the official file is {expected_size:,} bytes"
        if size < expected_size:
            size_note += " (truncated?)"
        if strict:
            result.problems.append(size_note)
            return result

    problems, result.kind = check_structure(path, spec, kind)
    if problems:
        result.problems.extend(problems)
        if size_note:
            result.problems.append(size_note)
        return result
    if size_note:
        result.warnings.append(f"it differs from the official file ({size_note}); using it as a custom variant")
        return result
    if expected_sha256:
        result.sha256 = known_sha256 or sha256_file(path)
        if result.sha256 != expected_sha256.lower():
            note = (f"its SHA-256 is {result.sha256[:12]}..., the official file's is "
                    f"{expected_sha256[:12]}...")
            if strict:
                result.problems.append(note + " (corrupted)")
            else:
                result.warnings.append(f"it differs from the official file ({note}); using it as a custom variant")
    return result


# ---------------------------------------------------------------- remembered verdicts

_memo: dict[tuple, VerifyResult] = {}
_memo_lock = threading.Lock()
check_count = 0  # verifications actually run in this process (tests read it)


def _question(spec: Optional[ModelSpec], kwargs: dict) -> str:
    """What was asked, as a string: the same file may be checked as a detector and as a pose model."""
    return repr((CHECK_VERSION, spec.filename if spec else None, spec.size if spec else None,
                 spec.sha256 if spec else None, kwargs.get("kind"), kwargs.get("expected_size"),
                 kwargs.get("expected_sha256"), bool(kwargs.get("strict")), torch_available()))


def verify_cached(path: Path, **kwargs) -> VerifyResult:
    """verify_file, remembered in this process and across processes until the file's size or mtime changes."""
    global check_count
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return verify_file(path, **kwargs)
    spec = kwargs.get("spec")
    question = _question(spec, kwargs)
    key = (user_cache.absolute(path), st.st_size, st.st_mtime_ns, question)
    with _memo_lock:
        hit = _memo.get(key)
    if hit is not None:
        return hit
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    record = user_cache.read(VERDICTS, path)
    if record is not None and all(record.get(k) == v for k, v in stamp.items()):
        saved = record.get("answers", {}).get(question)
        if isinstance(saved, dict):
            try:
                result = VerifyResult(path, list(saved["problems"]), list(saved["warnings"]), saved["sha256"],
                                      saved["kind"])
            except (KeyError, TypeError):
                result = None
            if result is not None:
                with _memo_lock:
                    _memo[key] = result
                return result
    else:
        record = None
    with _memo_lock:
        check_count += 1
    result = verify_file(path, **kwargs)
    with _memo_lock:
        _memo[key] = result
    _remember(path, stamp, record, question, result)
    return result


def _remember(path: Path, stamp: dict, record: Optional[dict], question: str, result: VerifyResult) -> None:
    try:
        now = path.stat()
    except OSError:
        return
    if (now.st_size, now.st_mtime_ns) != (stamp["size"], stamp["mtime_ns"]):
        return  # changed while being checked: remember nothing
    answers = dict((record or {}).get("answers", {}))
    saved = asdict(result)
    saved.pop("path")
    answers[question] = saved
    user_cache.write(VERDICTS, path, {**stamp, "answers": answers})


def forget_verdicts(path: Path) -> None:
    user_cache.delete(VERDICTS, path)
    with _memo_lock:
        for key in [k for k in _memo if k[0] == user_cache.absolute(Path(path))]:
            del _memo[key]


def clear_cache() -> None:
    """Forget this process's verdicts (as a new process would); the per-user records stay."""
    with _memo_lock:
        _memo.clear()
