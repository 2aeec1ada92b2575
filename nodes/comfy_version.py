"""Which ComfyUI node API the pack is written against, in one place.

The nodes are V3 schema nodes (``io.ComfyNode``: ``define_schema`` / ``execute``), registered
through ``comfy_entrypoint`` (root ``__init__.py``). They import **``comfy_api.latest``**, not a
pinned ``comfy_api.v0_0_2``:

- in ComfyUI 0.33.0 (the floor, pyproject ``requires-comfyui``) ``comfy_api.v0_0_2`` re-exports
  ``latest``'s ``io``, ``ui`` and ``ComfyExtension`` unchanged (``from comfy_api.latest import io,
  ui ...``), so "pinning" it pins nothing: the classes are the same objects;
- ``io.BoundingBox`` (core's BOUNDING_BOX type, for the boxes ComfyUI's SDPose nodes make and
  take), ``Schema.search_aliases`` and ``has_intermediate_output`` are what the pack needs, and
  ComfyUI's own nodes (comfy_extras) use them from ``latest``.

The V3 API is marked not stable (``ComfyAPI_latest.STABLE = False``), so what the pack relies
on is tested rather than assumed: tests/nodes/test_nodes_v3.py compares every node's declaration
with the snapshot of the last V1 version, and runs against ComfyUI's real ``comfy_api`` when a
ComfyUI checkout is given (COMFYUI_PATH). When a later ComfyUI changes ``latest``, that test is
the place to look; ``API_VERSION`` is the one line to change for a pinned version.

Nothing here imports ComfyUI at module import: :func:`available` only asks whether the package
exists, so that an older ComfyUI gets one console line instead of a crash.
"""
from __future__ import annotations

import importlib
import importlib.util

API_VERSION = "latest"          # comfy_api.<API_VERSION>
MIN_COMFYUI = "0.33.0"          # the same floor as pyproject.toml's requires-comfyui
NEEDS = (f"DWPose: this node pack needs ComfyUI {MIN_COMFYUI} or newer (its V3 node API, comfy_api.{API_VERSION}); "
         f"update ComfyUI to use the DWPose nodes.")


def available() -> bool:
    """comfy_api.<API_VERSION> can be imported (ComfyUI >= the floor); never raises."""
    try:
        return importlib.util.find_spec(f"comfy_api.{API_VERSION}") is not None
    except (ImportError, ValueError):
        return False


def api():
    """The ``comfy_api.<API_VERSION>`` module (io, ui, ComfyExtension)."""
    return importlib.import_module(f"comfy_api.{API_VERSION}")
