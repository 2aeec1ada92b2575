"""ComfyUI entry point of the DWPose node pack.

ComfyUI imports this folder as a package by its path and, finding ``comfy_entrypoint``, awaits it
for a ``ComfyExtension`` whose node list are the pack's V3 nodes (nodes/, see
nodes/comfy_version.py for the API version). Nothing here imports torch, onnxruntime, OpenCV or
even the nodes: they load when ComfyUI calls the entry point (and the models when a node first
runs). The node folder is imported relatively because ComfyUI has a top-level module named
``nodes``; ``dwpose_core`` is made importable under its own name so that the nodes, the CLI and
the tests share one copy of the core.

A ComfyUI older than the pack's floor has no ``comfy_api``: one console line says which version
is needed, and the pack registers nothing (ComfyUI starts normally).
"""
import importlib.util
import logging
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))

WEB_DIRECTORY = "./web"


def _expose_core() -> None:
    if "dwpose_core" in sys.modules:
        return
    folder = os.path.join(_HERE, "dwpose_core")
    spec = importlib.util.spec_from_file_location(
        "dwpose_core", os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules["dwpose_core"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["dwpose_core"]
        raise


def _version_module():
    """nodes/comfy_version.py, loaded on its own (importing the nodes package would import comfy_api)."""
    name = f"{__name__}._comfy_version"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(_HERE, "nodes", "comfy_version.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


_expose_core()

if _version_module().available():
    async def comfy_entrypoint():
        """ComfyUI (>= 0.33.0) calls this once at start-up: the pack's extension with its V3 nodes."""
        from .nodes import DWPoseExtension

        return DWPoseExtension()

    __all__ = ["comfy_entrypoint", "WEB_DIRECTORY"]
else:
    # one line: ComfyUI's log handler shows it, and without any handler Python's last-resort one does
    logging.getLogger("dwpose").warning(_version_module().NEEDS)
    __all__ = ["WEB_DIRECTORY"]
