"""Load the pack the way ComfyUI does: the repository folder imported as a package by path.

``comfy`` / ``folder_paths`` come from ComfyUI when it is importable, else from the stand-ins
in this folder. The pack is imported once per process under the name ``comfyui_dwpose``.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

STUBS = Path(__file__).resolve().parent
ROOT = STUBS.parents[1]
PACK_NAME = "comfyui_dwpose"


def real_comfy_available() -> bool:
    """ComfyUI's own ``comfy`` package is importable (not our stand-ins, and not some unrelated folder
    named ``comfy`` that Python would take as a namespace package, such as a ComfyUI checkout's root)."""
    spec = importlib.util.find_spec("comfy")
    if spec is None:
        return False
    locations = [str(p) for p in (spec.submodule_search_locations or [])]
    return any(os.path.isfile(os.path.join(p, "model_management.py")) and "comfy_stubs" not in p
               for p in locations)


def use_stubs() -> bool:
    """Put the stand-ins on sys.path unless ComfyUI itself is importable; True when stubs are used."""
    if real_comfy_available():
        return False
    if str(STUBS) not in sys.path:
        sys.path.insert(0, str(STUBS))
    stale = sys.modules.get("comfy")
    if stale is not None and getattr(stale, "__file__", None) is None:  # a namespace package, not ComfyUI
        del sys.modules["comfy"]
    return True


def load_pack(name: str = PACK_NAME):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


# Shared by every copy of this file that test modules load, so one process has one pack and one tree.
_state: dict = vars(sys.modules.setdefault("comfy_stub_loader_state", type(sys)("comfy_stub_loader_state"))) \
    .setdefault("state", {})


def pack_for_tests(root: Path):
    """Stubs (when needed), a fresh ComfyUI tree under ``root`` on first use, and the loaded pack.

    One pack per process: later calls return the same module and the first tree.
    """
    if "pack" in _state:
        return _state["pack"], _state["root"]
    stubbed = use_stubs()
    if stubbed:
        import folder_paths

        folder_paths.reset(root)
    _state["pack"], _state["root"] = load_pack(), Path(root)
    return _state["pack"], _state["root"]
