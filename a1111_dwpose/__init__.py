"""AUTOMATIC1111 glue: DWPose preprocessors in sd-webui-controlnet's (or Forge's) dropdown.

Entry point: ``scripts/dwpose_a1111_preprocessor.py`` calls :func:`setup` while A1111
loads extension scripts. Registration happens at once when ControlNet's registry is
already loaded, and again (idempotently) from ``script_callbacks.on_before_ui``, which
A1111 runs after every script has loaded and before the UI is built: so the load
order of the two extensions does not matter, and "Reload UI" does not register twice.

This package imports A1111 (``modules.*``) and ControlNet modules only from
``sys.modules``, never by itself: outside A1111 it does nothing. ``dwpose_core`` stays
free of A1111; the heavy work (models, drawing) happens there, lazily.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Union

from .runner import VARIANTS, A1111Models, Variant, run_variant
from .registry import ensure_registered, registered_names

__all__ = ["VARIANTS", "Variant", "A1111Models", "run_variant", "ensure_registered", "registered_names", "setup"]

_PREFIX = "[DWPose]"
_absent_reported = False


def setup(extension_root: Union[str, Path, None] = None) -> bool:
    """Called by the A1111 script at load time; True when running inside A1111.

    Registers now if a registry is loaded, and always hooks ``on_before_ui`` (A1111
    clears its callbacks before re-running scripts on "Reload UI", so hooking once
    per script run is exactly once per UI build).
    """
    from . import host

    callbacks = sys.modules.get("modules.script_callbacks")
    if callbacks is None:
        return False  # not inside A1111/Forge: importing the script must do nothing
    if extension_root is not None:
        host.set_extension_root(extension_root)
    try:
        ensure_registered()
    except Exception as exc:  # never break A1111's script loading
        print(f"{_PREFIX} registering the preprocessors failed: {exc!r}")
    on_before_ui = getattr(callbacks, "on_before_ui", None)
    if on_before_ui is None:
        print(f"{_PREFIX} this A1111 version has no script_callbacks.on_before_ui; "
              "update A1111 to 1.6 or newer to get the DWPose preprocessors reliably.")
        return True
    on_before_ui(_before_ui)
    return True


def _before_ui() -> None:
    """Last chance before the dropdown is built: register, or say once why not."""
    global _absent_reported
    try:
        found = ensure_registered()
    except Exception as exc:
        print(f"{_PREFIX} registering the preprocessors failed: {exc!r}")
        return
    if found or _absent_reported:
        return
    _absent_reported = True
    from .registry import absence_reason

    print(f"{_PREFIX} {absence_reason()}")

