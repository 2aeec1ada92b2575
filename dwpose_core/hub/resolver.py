"""Name or path in, verified local file out.

The order is the one locate.py documents; each file found is checked before it
is returned. Which check applies depends on where the file came from:
- downloaded (our record, huggingface_hub's local-folder metadata, or a blob in
  the Hugging Face cache): it must match the hash recorded at download time;
- placed by hand: it must pass the structural check; a size or hash different
  from the official file is only a warning (fine-tuned variants exist).
A file that fails is reported (which file, what is wrong) and skipped; if no
good copy is left, a fresh one is downloaded, replacing a bad one in the
download folder.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from . import download as dl
from . import locate
from .errors import CorruptModelError, ModelKindError, ModelNotFoundError, UnsupportedModelError
from .messages import describe, placement_help, problems_text, searched_folders
from .registry import KINDS, ModelSpec, default_name, find_spec, specs, unknown_name_message
from .verify import VerifyResult, file_format, verify_cached, verify_file

log = logging.getLogger("dwpose.hub")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_warned: set[tuple] = set()
_warned_lock = threading.Lock()

PathLike = Union[str, os.PathLike]


def resolve(name_or_path: Optional[PathLike] = None, *, kind: Optional[str] = None, download: bool = True) -> Path:
    """A registry name (e.g. ``"yolox_l.onnx"``), ``"<repo_id>/<file>"`` or a path -> a verified local file.

    ``kind`` ("detector" or "pose") picks the default when no name is given and
    is checked against the file. ``download=False`` never touches the network.
    Raises ModelNotFoundError (CorruptModelError, DownloadError), UnsupportedModelError, ModelKindError.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} or None, got {kind!r}.")
    if name_or_path is None or not str(name_or_path).strip():
        if kind is None:
            raise ValueError("Give a model name or path, or kind='detector'/'pose' for the default model.")
        name_or_path = default_name(kind)
    text = os.fspath(name_or_path).strip()
    explicit = Path(os.path.expandvars(text)).expanduser()
    if explicit.is_file():
        return _resolve_explicit(explicit, kind)
    spec = find_spec(text)
    if spec is None:
        if isinstance(name_or_path, os.PathLike) or any(c in text for c in "/\\") or text.startswith("~"):
            _raise_missing_path(explicit)
        return _resolve_unknown(text, kind)
    _check_usable(spec, kind)
    return _resolve_spec(spec, kind, download)


# ---------------------------------------------------------------- checks per origin

def _check_usable(spec: ModelSpec, kind: Optional[str]) -> None:
    if not spec.supported:
        instead = f" Use {spec.instead!r} instead." if spec.instead else ""
        raise UnsupportedModelError(f"{spec.filename} is not supported: {spec.reason}.{instead}")
    if kind is not None and spec.kind != kind:
        raise ModelKindError(f"{spec.filename} is a {spec.kind} model, but a {kind} model is needed here "
                             f"(the default {kind} model is {default_name(kind)!r}).")


def evaluate(path: Path, spec: Optional[ModelSpec], kind: Optional[str], *, hf_cache: bool = False,
             thorough: bool = False) -> VerifyResult:
    """Verify one found file with the policy its origin calls for.

    A file we downloaded and verified is trusted while its size and mtime are
    unchanged, unless ``thorough`` (``models verify``) asks to hash it again.
    """
    check = verify_file if thorough else verify_cached
    record = dl.read_record(path)
    if record is not None:
        try:
            st = path.stat()
        except OSError:
            st = None
        unchanged = st is not None and st.st_size == record.get("size") and st.st_mtime_ns == record.get("mtime_ns")
        if unchanged and not thorough:
            return VerifyResult(path, sha256=record.get("sha256"), kind=spec.kind if spec else kind)
        return check(path, spec=spec, kind=kind, expected_size=record.get("size"),
                     expected_sha256=record.get("sha256"), strict=True)
    server_sha = dl.hf_recorded_sha256(path)
    if server_sha is None and hf_cache:
        blob = path.resolve().name
        server_sha = blob if _SHA256.match(blob) else None
    if server_sha is None:
        return check(path, spec=spec, kind=kind, strict=False)
    official = spec is not None and spec.sha256 == server_sha
    result = check(path, spec=spec, kind=kind, expected_sha256=server_sha,
                   expected_size=spec.size if official else None, strict=True)
    if result.ok and spec is not None and spec.sha256 and not official:
        result = dataclasses.replace(result, warnings=result.warnings + [
            "it differs from the official file (its source lists another SHA-256); using it anyway"])
    return result


def _report(path: Path, result: VerifyResult) -> None:
    if not result.warnings:
        return
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        key = (str(path), None)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning("DWPose: %s: %s.", path, "; ".join(result.warnings))


# ---------------------------------------------------------------- the three kinds of request

def _resolve_explicit(path: Path, kind: Optional[str]) -> Path:
    spec = find_spec(path.name)
    if spec is not None and spec.supported and kind is not None and spec.kind != kind:
        spec = None  # a custom file that happens to share a registry name: check it as `kind`
    if (spec is not None and not spec.supported) or file_format(path) == "torchscript":
        reason = spec.reason if spec is not None else "TorchScript files contain code that runs when loaded"
        instead = spec.instead if spec is not None else None
        hint = f" Use {instead!r} instead." if instead else " Use an .onnx or .pth model instead."
        raise UnsupportedModelError(f"{path} is not supported: {reason}.{hint}")
    result = evaluate(path, spec, kind)
    if not result.ok:
        hint = ""
        if spec is not None and spec.downloadable:
            hint = (f"\nDelete or replace it, or pass the name {spec.filename!r} instead of a path to find or "
                    f"download the official file ({dl.file_url(spec)}).")
        label = f"a {kind} model" if kind else "a model"
        raise CorruptModelError(f"{path} cannot be used as {label}: {'; '.join(result.problems)}.{hint}",
                                problems=[(path, "; ".join(result.problems))], filename=path.name,
                                searched=[path.parent], url=dl.file_url(spec) if spec is not None else None)
    if kind is not None and result.kind is not None and result.kind != kind:
        raise ModelKindError(f"{path} is a {result.kind} model, but a {kind} model is needed here.")
    _report(path, result)
    return path


def _raise_missing_path(path: Path) -> None:
    spec = find_spec(path.name)
    hint = ""
    if spec is not None and spec.supported:
        hint = f" Pass the bare name {spec.filename!r} to find it in the model folders or download it."
    raise ModelNotFoundError(f"Model file {path} does not exist.{hint}", filename=path.name,
                             searched=[path.parent], url=dl.file_url(spec) if spec is not None else None)


def _resolve_unknown(name: str, kind: Optional[str]) -> Path:
    """A file name the registry does not know (a custom model): look for it, never download it."""
    rejected = []
    for cand in locate.find_candidates(name, None, include_hf_cache=False):
        result = evaluate(cand.path, None, kind)
        if result.ok:
            _report(cand.path, result)
            return cand.path
        rejected.append((cand.path, "; ".join(result.problems)))
        log.warning("DWPose: skipping %s: %s.", cand.path, "; ".join(result.problems))
    if rejected:
        raise CorruptModelError(f"{name}: every copy found is unusable:\n{problems_text(rejected)}",
                                problems=rejected, filename=name, searched=searched_folders())
    raise ModelNotFoundError(
        f"{unknown_name_message(name)} No file named {name!r} was found either, so it cannot be a custom model "
        f"here. Give a full path, or:\n{placement_help(name, None)}",
        filename=name, searched=searched_folders())


def _resolve_spec(spec: ModelSpec, kind: Optional[str], download: bool) -> Path:
    with dl.lock_for("resolve:" + spec.filename):
        rejected: list[tuple[Path, str]] = []
        for cand in locate.find_candidates(spec.filename, spec.repo_id):
            result = evaluate(cand.path, spec, kind, hf_cache=cand.hf_cache)
            if result.ok:
                _report(cand.path, result)
                return cand.path
            what = "; ".join(result.problems)
            rejected.append((cand.path, what))
            log.warning("DWPose: %s (found in %s) is damaged or not %s: %s.", cand.path, cand.label,
                        spec.filename, what)
        url = dl.file_url(spec)
        offline = dl.is_offline()
        if not download or offline or not spec.downloadable:
            why = ("HF_HUB_OFFLINE is set, so nothing is downloaded" if offline and download
                   else "downloading was not allowed")
            common = dict(filename=spec.filename, searched=searched_folders(), url=url)
            if rejected:
                raise CorruptModelError(
                    f"{describe(spec)}: every copy found is damaged, and {why}:\n{problems_text(rejected)}\n"
                    f"{placement_help(spec.filename, url)}", problems=rejected, **common)
            raise ModelNotFoundError(f"{describe(spec)} was not found, and {why}.\n"
                                     f"{placement_help(spec.filename, url)}", **common)
        dest = locate.download_dir()
        target = dest / spec.filename
        # A damaged file under the target name is replaced, not trusted because its recorded ETag matches.
        force = target.exists()
        return dl.fetch(spec, dest, force=force)


# ---------------------------------------------------------------- listing

@dataclass(frozen=True)
class ModelStatus:
    name: str
    kind: str
    path: Optional[Path]  # first copy found (not verified; `models verify` does that), or None
    downloadable: bool
    supported: bool = True
    reason: str = ""
    repo_id: str = ""
    url: str = ""
    found_in: str = ""  # label of the folder it was found in
    description: str = ""


def list_models(kind: Optional[str] = None) -> list[ModelStatus]:
    """Every registry model (optionally of one kind) and where a copy was found, without verifying it."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} or None, got {kind!r}.")
    out = []
    for spec in specs(kind):
        found = locate.find_candidates(spec.filename, spec.repo_id) if spec.supported else []
        first = found[0] if found else None
        out.append(ModelStatus(
            name=spec.filename, kind=spec.kind, path=first.path if first else None,
            downloadable=spec.downloadable, supported=spec.supported,
            reason=spec.reason + (f"; use {spec.instead} instead" if spec.instead else "") if not spec.supported else "",
            repo_id=spec.repo_id, url=dl.file_url(spec), found_in=first.label if first else "",
            description=spec.description))
    return out
