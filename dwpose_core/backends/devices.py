"""Device settings in words and kinds, shared by the backend plan and the backends.

``setting``/``suggest`` word a device choice the way the user made it (``--device cuda`` on the
command line, ``device 'cuda'`` for a widget, ``device='cuda'`` in Python), so that every message
names the right thing; ``device_kind`` sorts a device string into cpu/cuda/mps/xpu. Nothing here
imports torch or onnxruntime, or any other backend module.
"""
from __future__ import annotations

from typing import Optional

from .base import DeviceError

ACCELERATOR_KINDS = ("cuda", "mps", "xpu")


def setting(option_name: Optional[str], value) -> str:
    """How the user wrote the device choice: ``--device cuda``, ``device 'cuda'`` (a widget), ``device='cuda'``."""
    if option_name is None:
        return f"device={value!r}"
    if option_name.startswith("-"):
        return f"{option_name} {value}"
    return f"{option_name} '{value}'"


def suggest(option_name: Optional[str], value: str = "cpu") -> str:
    """How to change it: ``--device cpu``, ``set device to 'cpu'``, ``device='cpu'``."""
    if option_name is None:
        return f"device={value!r}"
    if option_name.startswith("-"):
        return f"{option_name} {value}"
    return f"set {option_name} to '{value}'"


def device_kind(device, option_name: Optional[str] = None) -> Optional[str]:
    """None for no choice (None, "", "auto"), else "cpu", "cuda", "mps" or "xpu"; other strings are a
    :class:`DeviceError` naming the setting."""
    if device is None or str(device).strip().lower() in ("", "auto"):
        return None
    text = str(device).strip().lower()
    kind, _, index = text.partition(":")
    if kind in ("cpu",) + ACCELERATOR_KINDS and (not index or index.isdigit()):
        return kind
    raise DeviceError(f"{setting(option_name, device)}: Unknown torch device; use auto, cpu, cuda, cuda:N, "
                      "mps or xpu.")
