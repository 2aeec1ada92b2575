"""Name or path in, verified local file out.

The order is the one locate.py documents; each file found is checked with the
policy its origin calls for (trust.py) before it is returned. A file that fails
is reported (which file, what is wrong) and skipped; if no good copy is left, a
fresh one is downloaded (download.py), replacing a bad one in the download
folder. A file of the other kind (a pose model given as the detector) is a
ModelKindError naming what the file is.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Optional, Union

from . import archives
from . import download as dl
from . import locate
from .errors import CorruptModelError, ModelKindError, ModelNotFoundError, UnsupportedModelError
from .messages import describe, placement_help, problems_text, searched_folders
from .registry import KINDS, ModelSpec, default_name, find_spec, unknown_name_message
from .structure import file_format
from .trust import evaluate
from .verify import VerifyResult

log = logging.getLogger("dwpose.hub")

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
    if locate.is_link_loop(explicit):
        raise ModelNotFoundError(f"{explicit}: {locate.LOOP_TEXT}. Point it at the model file, or give "
                                 "another path.", filename=explicit.name, searched=[explicit.parent])
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
    if kind is not None and result.kind is not None and result.kind != kind:
        what = "; ".join(result.problems) or f"it is a {result.kind} model"
        raise ModelKindError(f"{path} cannot be used as the {kind} model: {what}. Give it as the "
                             f"{result.kind} model instead, or pick a {kind} model (the default is "
                             f"{default_name(kind)!r}).")
    if not result.ok:
        hint = ""
        if spec is not None and spec.downloadable:
            hint = (f"\nDelete or replace it, or pass the name {spec.filename!r} instead of a path to find or "
                    f"download the official file ({dl.file_url(spec)}).")
        label = f"a {kind} model" if kind else "a model"
        raise CorruptModelError(f"{path} cannot be used as {label}: {'; '.join(result.problems)}.{hint}",
                                problems=[(path, "; ".join(result.problems))], filename=path.name,
                                searched=[path.parent], url=dl.file_url(spec) if spec is not None else None)
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
    rejected: list[tuple[Path, str]] = []
    for cand in locate.find_candidates(name, None, include_hf_cache=False, loops=rejected):
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
        for cand in locate.find_candidates(spec.filename, spec.repo_id, loops=rejected):
            result = evaluate(cand.path, spec, kind, hf_cache=cand.hf_cache)
            missing = [p.name for p in archives.sidecar_paths(spec, cand.path) if not p.is_file()]
            if result.ok and missing:
                result = VerifyResult(cand.path, problems=[f"{', '.join(missing)} is missing next to it"])
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
        # A damaged file under the target name is replaced; archives are extracted (archives.py).
        return archives.fetch_model(spec, locate.download_dir())


def __getattr__(name: str):  # listing moved to listing.py; keep the old import path working
    if name in ("ModelStatus", "list_models"):
        from . import listing

        return getattr(listing, name)
    raise AttributeError(name)
