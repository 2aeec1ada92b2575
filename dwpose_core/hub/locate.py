"""Where model files may already be, in resolution order, and where downloads go.

Order (an explicit path is handled by the resolver before any of these):
1. ``$DWPOSE_CKPTS_DIR``
2. the extension's own ``ckpts/``
3. folders a host registered (ComfyUI's ``models/dwpose``; A1111's ControlNet models folder)
4. comfyui_controlnet_aux's downloads: ``$AUX_ANNOTATOR_CKPTS_PATH/<repo_id>/<file>`` and
   ``<custom_nodes>/comfyui_controlnet_aux/ckpts/<repo_id>/<file>`` when we live in ``custom_nodes``
5. sd-webui-controlnet's downloads when we live in ``<webui>/extensions``:
   ``<webui>/extensions/sd-webui-controlnet/annotator/downloads/openpose/<file>`` and ``<webui>/models/openpose/<file>``
6. the Hugging Face cache (``$HF_HUB_CACHE``, ``$HF_HOME/hub``, ``~/.cache/huggingface/hub``)

Our own folders (1-3) accept both ``<dir>/<file>`` and ``<dir>/<repo_id>/<file>``.
Downloads go to ``$DWPOSE_CKPTS_DIR`` if set, else the host's download folder
(ComfyUI: ``models/dwpose``), else ``ckpts/``. The core never imports a host:
hosts hand their folders in through :func:`register_host_dirs`.
"""
from __future__ import annotations

import errno
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

log = logging.getLogger("dwpose.hub")

ENV_CKPTS = "DWPOSE_CKPTS_DIR"
ENV_AUX = "AUX_ANNOTATOR_CKPTS_PATH"
AUX_FOLDER = "comfyui_controlnet_aux"
WEBUI_CONTROLNET = "sd-webui-controlnet"


# ---------------------------------------------------------------- host hook

@dataclass(frozen=True)
class _Host:
    search_dirs: Callable[[], list]
    download_dir: Optional[Callable[[], Optional[Path]]]


_hosts: dict[str, _Host] = {}
_hosts_lock = threading.Lock()
_host_errors_reported: set[tuple[str, str]] = set()


def register_host_dirs(search_dirs: Callable[[], list], download_dir: Optional[Callable[[], Optional[Path]]] = None,
                       *, name: str = "host") -> None:
    """Let a host (ComfyUI, A1111) add model folders without the core importing it.

    ``search_dirs()`` returns the folders to look in (called at every resolution,
    so folders configured later count); ``download_dir()`` returns where
    downloads go, or None to keep the default. Registering again under the
    same ``name`` replaces the earlier registration (A1111's "Reload UI").
    """
    with _hosts_lock:
        _hosts[name] = _Host(search_dirs, download_dir)


def unregister_host_dirs(name: str = "host") -> None:
    with _hosts_lock:
        _hosts.pop(name, None)


def _call_host(name: str, fn: Callable, what: str):
    try:
        return fn()
    except Exception as exc:  # a broken host hook must not break model loading
        if (name, what) not in _host_errors_reported:
            _host_errors_reported.add((name, what))
            log.warning("DWPose: the %s hook for %s failed (%s); ignoring it.", name, what, exc)
        return None


def host_search_dirs() -> list[tuple[str, Path]]:
    with _hosts_lock:
        hosts = list(_hosts.items())
    out = []
    for name, host in hosts:
        for folder in _call_host(name, host.search_dirs, "search folders") or []:
            if folder:
                out.append((f"{name} folder", Path(folder).expanduser()))
    return out


def host_download_dir() -> Optional[Path]:
    with _hosts_lock:
        hosts = list(_hosts.items())
    for name, host in hosts:
        if host.download_dir is not None:
            folder = _call_host(name, host.download_dir, "download folder")
            if folder:
                return Path(folder).expanduser()
    return None


# ---------------------------------------------------------------- folders

def extension_root() -> Path:
    """The folder this extension is installed in (its ckpts/ lives here)."""
    return Path(__file__).resolve().parents[2]


def ckpts_dir() -> Path:
    return extension_root() / "ckpts"


def _env_path(var: str) -> Optional[Path]:
    value = os.environ.get(var, "").strip()
    return Path(os.path.expandvars(value)).expanduser() if value else None


def download_dir() -> Path:
    """Where a download goes: $DWPOSE_CKPTS_DIR, else the host's folder, else ckpts/."""
    return _env_path(ENV_CKPTS) or host_download_dir() or ckpts_dir()


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (huggingface_hub reads it at import)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        path = _env_path(var)
        if path:
            return path
    home = _env_path("HF_HOME")
    if home is None:
        xdg = _env_path("XDG_CACHE_HOME") or Path.home() / ".cache"
        home = xdg / "huggingface"
    return home / "hub"


@dataclass(frozen=True)
class Place:
    """A folder to look in; ``by_repo``: files sit under ``<folder>/<repo_id>/``; ``flat``: directly inside."""

    label: str
    folder: Path
    flat: bool = True
    by_repo: bool = True
    own: bool = False  # one of our folders (a good place to put a file by hand)

    def paths(self, filename: str, repo_id: Optional[str]) -> list[Path]:
        out = []
        if self.flat:
            out.append(self.folder / filename)
        if self.by_repo and repo_id:
            out.append(self.folder.joinpath(*repo_id.split("/"), filename))
        return out


def own_places() -> list[Place]:
    places = []
    env = _env_path(ENV_CKPTS)
    if env:
        places.append(Place(f"${ENV_CKPTS}", env, own=True))
    places.append(Place("the extension's ckpts/", ckpts_dir(), own=True))
    for label, folder in host_search_dirs():
        places.append(Place(label, folder, own=True))
    host_dl = host_download_dir()
    if host_dl is not None and all(p.folder != host_dl for p in places):
        places.append(Place("host download folder", host_dl, own=True))
    return places


def _aux_places() -> list[Place]:
    places = []
    env = _env_path(ENV_AUX)
    if env:
        places.append(Place(f"${ENV_AUX}", env, flat=False))
    parent = extension_root().parent
    if parent.name.lower() == "custom_nodes":
        for child in _children(parent):
            if child.name.lower() == AUX_FOLDER:
                places.append(Place(f"{child.name}/ckpts", child / "ckpts", flat=False))
    return places


def _webui_places() -> list[Place]:
    parent = extension_root().parent
    if parent.name.lower() != "extensions":
        return []
    webui = parent.parent
    places = []
    for child in _children(parent):
        if child.name.lower().startswith(WEBUI_CONTROLNET):
            places.append(Place(f"{child.name} downloads", child / "annotator" / "downloads" / "openpose",
                                by_repo=False))
    places.append(Place("webui models/openpose", webui / "models" / "openpose", by_repo=False))
    return places


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []


def places() -> list[Place]:
    """Every folder to look in, in resolution order (the HF cache comes after these)."""
    return own_places() + _aux_places() + _webui_places()


@dataclass(frozen=True)
class Candidate:
    path: Path
    label: str  # where it was found, for messages
    own: bool = False  # in one of our own folders
    hf_cache: bool = False


def is_link_loop(path: Path) -> bool:
    """Whether ``path`` is a symbolic link that never reaches a file (it points back into itself)."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


LOOP_TEXT = "it is a symbolic link loop (following it leads back to itself), so it names no file"
_loops_reported: set[str] = set()


def _report_loop(path: Path) -> None:
    key = str(path)
    if key not in _loops_reported:
        _loops_reported.add(key)
        log.warning("DWPose: skipping %s: %s.", path, LOOP_TEXT)


def _topmost_loop(path: Path, top: Path) -> Path:
    chain = [path]
    while chain[-1] != top and chain[-1].parent != chain[-1]:
        chain.append(chain[-1].parent)
    return next((p for p in reversed(chain) if is_link_loop(p)), path)


def find_candidates(filename: str, repo_id: Optional[str], *, include_hf_cache: bool = True,
                    loops: Optional[list] = None) -> list[Candidate]:
    """Existing files named ``filename``, in resolution order, without duplicates.

    A symbolic link loop met on the way (the file or a folder above it) is appended to ``loops`` as
    ``(path, why)`` for the caller to report, or logged once when no list is given.
    """
    found: list[Candidate] = []
    seen: set[Path] = set()
    for place in places():
        for path in place.paths(filename, repo_id):
            if path.is_file():
                key = path.resolve()
                if key not in seen:
                    seen.add(key)
                    found.append(Candidate(path, place.label, own=place.own))
            elif is_link_loop(path):
                looped = _topmost_loop(path, place.folder)
                if loops is None:
                    _report_loop(looped)
                elif all(p != looped for p, _ in loops):
                    loops.append((looped, LOOP_TEXT))
    if include_hf_cache and repo_id:
        cached = hf_cache_file(repo_id, filename)
        if cached is not None and cached.resolve() not in seen:
            found.append(Candidate(cached, "the Hugging Face cache", hf_cache=True))
    return found


def hf_cache_file(repo_id: str, filename: str) -> Optional[Path]:
    """The file in the Hugging Face cache (revision main), or None."""
    cache = hf_cache_dir()
    if not (cache / f"models--{repo_id.replace('/', '--')}").is_dir():
        return None  # nothing cached for this repo: skip importing huggingface_hub
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        hit = try_to_load_from_cache(repo_id, filename, cache_dir=str(cache))
    except Exception as exc:  # a damaged cache layout must not stop resolution
        log.warning("DWPose: could not read the Hugging Face cache at %s (%s).", cache, exc)
        return None
    if isinstance(hit, str) and Path(hit).is_file():
        return Path(hit)
    return None


def endpoint() -> str:
    """Where Hugging Face files come from: HF_ENDPOINT as it is now (a mirror), else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
