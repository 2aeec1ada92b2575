"""Every registry model and where a copy was found (``models list``, the nodes' model menus).

Listing never verifies or downloads anything: it only looks in the folders locate.py names.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import download as dl
from . import locate
from .registry import KINDS, specs


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
