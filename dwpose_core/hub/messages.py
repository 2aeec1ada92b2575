"""The text users read when a model is missing: where to put it and where to get it."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from . import locate
from .registry import ModelSpec


HF_OFFICIAL = "https://huggingface.co"

# Where a user without network or real weights can still try everything (README.md's section).
NO_WEIGHTS_POINTER = 'No network, or no real weights yet? See README.md, "Trying it without the real weights".'


def searched_folders() -> list[Path]:
    """Every folder looked in (for the exception's ``searched`` attribute)."""
    folders = [p.folder for p in locate.places()]
    folders.append(locate.hf_cache_dir())
    return folders


def placement_help(filename: str, url: Optional[str]) -> str:
    lines = ["Put the file in one of these folders:"]
    for place in locate.own_places():
        lines.append(f"  - {place.folder}  ({place.label})")
    others = [p for p in locate.places() if not p.own]
    if others:
        lines.append("Also looked in: " + ", ".join(str(p.folder) for p in others)
                     + f", and the Hugging Face cache ({locate.hf_cache_dir()}).")
    else:
        lines.append(f"Also looked in the Hugging Face cache ({locate.hf_cache_dir()}).")
    if url:
        mirror = ""
        base = locate.endpoint()  # a mirror (HF_ENDPOINT) in use: say where the official file is
        if base != HF_OFFICIAL and url.startswith(base + "/"):
            mirror = f" (official: {HF_OFFICIAL}{url[len(base):]})"
        lines.append(f"Download it from: {url}{mirror}")
        lines.append(f"(or on a machine with internet access run `python -m dwpose_core models download {filename} "
                     "--dir FOLDER` and copy the file over)")
    lines.append(NO_WEIGHTS_POINTER)
    return "\n".join(lines)


def problems_text(problems: Sequence[tuple[Path, str]]) -> str:
    return "\n".join(f"  - {path}: {what}" for path, what in problems)


def describe(spec: ModelSpec) -> str:
    return f"DWPose {spec.kind} model {spec.filename}"
