"""Stand-in for ``comfy_api.latest`` (ComfyUI 0.33.0): ``io``, ``ui``, ``ComfyExtension``.

Written for these tests from the public surface of ComfyUI's module (names, signatures, and what
ComfyUI's server and executor read from a node); it imports no torch, PIL or av. The pieces the
server and executor use are here too, so that tests can read a node as /object_info serves it
(``GET_NODE_INFO_V1``) and run it as the executor does (``PREPARE_CLASS_CLONE`` +
``EXECUTE_NORMALIZED``, ``validate_inputs``, ``fingerprint_inputs``).
"""
from abc import ABC, abstractmethod

from . import _io as io
from . import _ui as ui

IO = io
UI = ui


class ComfyExtension(ABC):
    async def on_load(self) -> None:
        """Called once when ComfyUI loads the extension, before get_node_list."""

    @abstractmethod
    async def get_node_list(self) -> list:
        """The extension's node classes."""


__all__ = ["ComfyExtension", "io", "IO", "ui", "UI"]
