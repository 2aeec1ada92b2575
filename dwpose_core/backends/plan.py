"""Which backend runs a model when the caller says ``backend="auto"``; device wording for messages.

The rule (README, "Backend auto"), in order:

1. Checkpoints (.pth/.pt/.ckpt/.safetensors) need torch.
2. A device that names an accelerator (``cuda``, ``cuda:N``, ``mps``, ``xpu``): torch on it when
   torch can see it and implements the graph (RTMPose, YOLOX); else ONNX Runtime's provider for
   that device (``cuda`` -> CUDA/ROCm/MIGraphX provider) when one is offered and starts; else a
   :class:`BackendError` naming the setting. Never a silent CPU run.
3. ``device="cpu"``: ONNX Runtime (measured faster than torch on the CPU: 1.35x on 64 video
   frames, half the memory; benchmarks/run.py), torch when onnxruntime is not installed.
4. No device (None/"auto"): when torch is not imported yet and the system shows no accelerator
   (no NVIDIA/AMD driver, not Apple silicon; a cheap look at a few paths), ONNX Runtime, without
   importing torch (it costs 1-3 s of start-up on a CPU-only machine). Otherwise (inside
   ComfyUI/A1111 torch is already imported, or a GPU driver is present): torch on an accelerator
   torch can see; else ONNX Runtime with its accelerator provider if one starts, else its CPU
   provider; torch on the CPU only without onnxruntime, or when the listed ORT accelerator
   provider fails to start.
"""
from __future__ import annotations

import glob
import importlib.util
import os
import platform
import sys
from pathlib import Path
from typing import Optional, Union

from .base import BackendError, DeviceError

BACKENDS = ("auto", "torch", "onnxruntime")
from ..hub.registry import TORCH_ONLY_SUFFIXES as CHECKPOINT_SUFFIXES  # noqa: E402 - files only torch reads
ACCELERATOR_KINDS = ("cuda", "mps", "xpu")
# ONNX Runtime providers that serve a torch device kind (ROCm torch reports as "cuda" as well).
ORT_PROVIDERS_FOR = {"cuda": ("CUDAExecutionProvider", "ROCMExecutionProvider", "MIGraphXExecutionProvider")}


# ----------------------------------------------------------------------------- wording

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
    """None for no choice (None, "", "auto"), else "cpu", "cuda", "mps" or "xpu"; other strings are errors."""
    if device is None or str(device).strip().lower() in ("", "auto"):
        return None
    text = str(device).strip().lower()
    kind, _, index = text.partition(":")
    if kind in ("cpu",) + ACCELERATOR_KINDS and (not index or index.isdigit()):
        return kind
    raise DeviceError(f"{setting(option_name, device)}: Unknown torch device; use auto, cpu, cuda, cuda:N, "
                       "mps or xpu.")


# ----------------------------------------------------------------------------- cheap probes

def torch_imported() -> bool:
    return "torch" in sys.modules


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None  # cheap: no import


def onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def system_may_have_accelerator() -> bool:
    """A GPU driver (NVIDIA, AMD ROCm) or Apple silicon is present: worth importing torch to look.
    Only looks at a few paths; never imports anything."""
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if os.name == "nt":
        system32 = Path(os.environ.get("SystemRoot", r"C:\Windows")) / "System32"
        return any((system32 / dll).exists() for dll in ("nvcuda.dll", "amdhip64.dll", "amdhip64_6.dll"))
    return (os.path.exists("/proc/driver/nvidia/version") or bool(glob.glob("/dev/nvidia[0-9]*"))
            or os.path.exists("/dev/kfd"))


# ----------------------------------------------------------------------------- the rule

def choose_backend(path: Union[str, Path], device: Optional[str] = None, option_name: Optional[str] = None) -> str:
    """The backend ``backend="auto"`` takes for ``path`` on ``device`` (see the module rule)."""
    return plan_backend(path, device, option_name=option_name)[0]


def plan_backend(path: Union[str, Path], device: Optional[str] = None, *, option_name: Optional[str] = None
                 ) -> tuple[str, Optional[list]]:
    """(backend, ONNX Runtime providers to use or None for the default) for ``backend="auto"``."""
    path = Path(path)
    kind = device_kind(device, option_name)
    if path.suffix.lower() in CHECKPOINT_SUFFIXES:
        return "torch", None
    if kind in ACCELERATOR_KINDS:
        return _on_accelerator(path, device, kind, option_name)
    if kind == "cpu":
        if onnxruntime_installed():
            return "onnxruntime", None
        return ("torch" if _torch_can_run(path) else "onnxruntime"), None  # the latter says to install it
    if not torch_imported() and not system_may_have_accelerator():
        if onnxruntime_installed():
            return "onnxruntime", None  # without importing torch
        return ("torch" if _torch_can_run(path) else "onnxruntime"), None
    return _auto_with_torch(path, device), None


def _torch_can_run(path: Path) -> bool:
    if not torch_installed():
        return False
    from . import torch_backend

    return torch_backend.can_run(path)


def _on_accelerator(path: Path, device, kind: str, option_name) -> tuple[str, Optional[list]]:
    problem = ""
    if torch_installed():
        from . import torch_backend

        if torch_backend.accelerator_available(device):
            if torch_backend.can_run(path):
                return "torch", None
            problem = f"torch sees it but does not implement {path.name} (not RTMPose/YOLOX)"
        else:
            import torch

            problem = f"torch {torch.__version__} cannot see a {kind.upper()} device"
    else:
        problem = "PyTorch is not installed"
    provider = _ort_provider_for(path, device, kind)
    if provider is not None:
        return "onnxruntime", provider
    ort_note = ""
    if kind in ORT_PROVIDERS_FOR:
        ort_note = " and ONNX Runtime offers no GPU provider that starts (install onnxruntime-gpu)"
    raise DeviceError(f"{setting(option_name, device)}: {problem}{ort_note}. Use {suggest(option_name)} to run "
                       "on the CPU, or install a torch build for your GPU.")


def _ort_provider_for(path: Path, device, kind: str) -> Optional[list]:
    names = ORT_PROVIDERS_FOR.get(kind)
    index = str(device).partition(":")[2]
    if not names or (index and index != "0") or not onnxruntime_installed() or path.suffix.lower() != ".onnx":
        return None
    from .ort_backend import CPU, available_providers, drop_session, get_session

    offered = available_providers()
    for name in names:
        if name not in offered:
            continue
        providers = [name, CPU]
        try:
            session = get_session(path, providers)
        except BackendError:
            continue
        if session.get_providers()[0] == name:
            return providers
        drop_session(path, providers)
    return None


def _auto_with_torch(path: Path, device) -> str:
    if not torch_installed():
        return "onnxruntime"
    from . import torch_backend

    if torch_backend.accelerator_available(device):
        return "torch" if torch_backend.can_run(path) else "onnxruntime"
    if not onnxruntime_installed():
        return "torch" if torch_backend.can_run(path) else "onnxruntime"  # the latter says to install it
    try:
        from .ort_backend import CPU, drop_session, get_session, resolve_providers

        providers = resolve_providers("auto")
        if providers[0] == CPU:
            return "onnxruntime"
        session = get_session(path, providers)
        if session.get_providers()[0] == providers[0]:
            return "onnxruntime"
        drop_session(path, providers)
    except BackendError:
        pass
    return "torch" if torch_backend.can_run(path) else "onnxruntime"
