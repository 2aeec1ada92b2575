"""ComfyUI entry point of the DWPose node pack.

ComfyUI imports this folder as a package by its path; nothing here imports
torch, onnxruntime or OpenCV (they load when a node first runs). The node
folder is imported relatively because ComfyUI has a top-level module named
``nodes``; ``dwpose_core`` is made importable under its own name so that the
nodes, the CLI and the tests share one copy of the core.
"""
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


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


_expose_core()

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS  # noqa: E402

WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
