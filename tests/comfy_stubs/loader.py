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


def load_pack(name: str = PACK_NAME, root: Path = ROOT):
    """The pack folder ``root`` imported by path as package ``name`` (as ComfyUI imports a custom node)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(root) / "__init__.py",
                                                  submodule_search_locations=[str(root)])
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


# ----------------------------------------------------------------------------- V3 nodes, as ComfyUI runs them

def node_classes(pack) -> dict:
    """node id -> class, found the way ComfyUI's ``load_custom_node`` finds them: await
    ``comfy_entrypoint()``, then the extension's ``on_load()`` and ``get_node_list()``."""
    import asyncio

    if "nodes" in _state and _state.get("nodes_of") is pack:
        return _state["nodes"]

    async def load():
        extension = await pack.comfy_entrypoint()
        await extension.on_load()
        return await extension.get_node_list()

    found = {}
    for cls in asyncio.run(load()):
        found[cls.GET_SCHEMA().node_id] = cls
    _state["nodes"], _state["nodes_of"] = found, pack
    return found


def display_names(classes: dict) -> dict:
    return {name: cls.GET_SCHEMA().display_name for name, cls in classes.items()}


def _clone(cls, node_id):
    from comfy_api.latest import io

    return cls.PREPARE_CLASS_CLONE({"hidden_inputs": {io.Hidden.unique_id: node_id}})


def run(cls, *args, unique_id=None, **kwargs) -> dict:
    """Run a V3 node as ComfyUI's executor does (a class clone with the hidden inputs set, then
    ``EXECUTE_NORMALIZED``); returns {"result": tuple of outputs, "ui": the UI dict or None}."""
    out = getattr(_clone(cls, unique_id), cls.FUNCTION)(*args, **kwargs)
    ui = out.ui.as_dict() if hasattr(out.ui, "as_dict") else out.ui
    return {"result": tuple(out.args), "ui": ui}


def validate(cls, unique_id=None, **inputs):
    """``validate_inputs`` as ComfyUI calls it: only the inputs it names (its signature)."""
    import inspect

    function = cls.validate_inputs
    params = inspect.signature(function).parameters
    given = {k: v for k, v in inputs.items() if k in params}
    return getattr(_clone(cls, unique_id), "validate_inputs")(**given)


def fingerprint(cls, unique_id=None, **inputs):
    return getattr(_clone(cls, unique_id), "fingerprint_inputs")(**inputs)
