"""The backend plan: for one model file, decide once what runs it, on what, and how.

:func:`make_plan` turns a request (file, backend ``auto``/``torch``/``onnxruntime``, device,
precision, ONNX Runtime providers, detector size, batch) into a :class:`BackendPlan`: the backend,
the torch device or the ONNX Runtime provider list, the precision, whether ONNX Runtime needs a
derived graph (``backends.derived_graphs``), and the reasons, in words. Loading
(``dwpose_core.backends.acquire_model``) executes a plan and asks nothing again; the plan is kept on
the model (``model.plan``). :func:`fallback_backend` is the one rule for trying ONNX Runtime after
torch failed to load a file.

The rule for ``backend="auto"`` (README, "Backend auto"), in order:

1. Checkpoints (.pth/.pt/.ckpt/.safetensors) need torch. Detector graphs torch does not implement -
   end-to-end ones (decoding and NMS inside: the registry says so, or an mmdeploy ``pipeline.json``
   sits beside the file) and YOLO-NAS - run on ONNX Runtime (on an accelerator device, rule 2 picks
   ONNX Runtime's provider for them), and the plan says why.
2. A device that names an accelerator (``cuda``, ``cuda:N``, ``mps``, ``xpu``): torch on it when
   torch can see it and implements the graph (RTMPose, YOLOX); else ONNX Runtime's provider for
   that device (``cuda`` -> CUDA/ROCm/MIGraphX provider) when one is offered and starts; else a
   :class:`DeviceError` naming the setting. Never a silent CPU run.
3. ``device="cpu"``: ONNX Runtime (measured faster than torch on the CPU: 1.35x on 64 video
   frames, half the memory; benchmarks/run.py), torch when onnxruntime is not installed.
4. No device (None/"auto"): when torch is not imported yet and the system shows no accelerator
   (no NVIDIA/AMD driver, not Apple silicon; a cheap look at a few paths), ONNX Runtime, without
   importing torch (it costs 1-3 s of start-up on a CPU-only machine). Otherwise (inside
   ComfyUI/A1111 torch is already imported, or a GPU driver is present): torch on an accelerator
   torch can see; else ONNX Runtime with its accelerator provider if one starts, else its CPU
   provider; torch on the CPU only without onnxruntime, or when the listed ORT accelerator
   provider fails to start.

This module imports neither torch nor onnxruntime at import time; the backends never import it.
"""
from __future__ import annotations

import glob
import importlib.util
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from .base import BackendError, BackendInfo, DeviceError
from .devices import ACCELERATOR_KINDS, device_kind, setting, suggest

__all__ = ["BACKENDS", "BackendPlan", "make_plan", "check_request", "choose_backend", "plan_backend", "fallback_backend",
           "setting", "suggest", "device_kind", "torch_installed", "system_may_have_accelerator"]

BACKENDS = ("auto", "torch", "onnxruntime")
from ..hub.registry import TORCH_ONLY_SUFFIXES as CHECKPOINT_SUFFIXES  # noqa: E402 - files only torch reads
# ONNX Runtime providers that serve a torch device kind (ROCm torch reports as "cuda" as well).
ORT_PROVIDERS_FOR = {"cuda": ("CUDAExecutionProvider", "ROCMExecutionProvider", "MIGraphXExecutionProvider")}
_CPU = "CPUExecutionProvider"
_FASTER_ON_CPU = "measured faster than torch on the CPU"


# ----------------------------------------------------------------------------- the plan

@dataclass(frozen=True)
class BackendPlan:
    """What runs one model file, decided once by :func:`make_plan`; loading executes it as it is."""

    path: Path  # the model file (resolved)
    backend: str  # "torch" or "onnxruntime"
    requested: str = "auto"  # what the caller asked for: "auto", "torch" or "onnxruntime"
    device: Optional[str] = None  # torch: the device it runs on ("cuda", "cuda:1", "mps", "cpu")
    providers: tuple[str, ...] = ()  # ONNX Runtime: the provider list handed to it, best first
    precision: str = "fp32"  # torch: fp32/fp16/bf16; ONNX Runtime: as exported (fp32)
    det_size: Optional[int] = None  # a detector's square input size other than the file's own
    derived_graph: Optional[str] = None  # ONNX Runtime: "det_size" (YOLOX at det_size), "batch" (dynamic batch)
    can_write_graph: bool = False  # "batch": torch is installed to write the graph (else only a cached one)
    option_name: Optional[str] = None  # how the device setting is named in messages
    reasons: tuple[str, ...] = ()  # why, in words, for the log and for people

    @property
    def runs_on(self) -> str:
        """The torch device, or the first ONNX Runtime provider."""
        if self.backend == "torch":
            return str(self.device)
        return self.providers[0] if self.providers else _CPU

    @property
    def info(self) -> BackendInfo:
        """The :class:`BackendInfo` the loaded model reports when the plan runs as decided."""
        return BackendInfo(self.backend, self.runs_on, self.precision)

    @property
    def batch(self) -> str:
        """"any" when ONNX Runtime runs a dynamic-batch graph of a file fixed to batch 1, else "file"."""
        return "any" if self.derived_graph == "batch" else "file"

    @property
    def key(self) -> tuple:
        """What makes two plans load the same model (the process-wide cache key)."""
        return (str(self.path), self.backend, self.device, self.precision, self.providers, self.det_size,
                self.derived_graph)

    @property
    def summary(self) -> str:
        """The log line: ``yolox_l.onnx runs with onnxruntime on CPUExecutionProvider (fp32) at 416x416``."""
        size = f" at {self.det_size}x{self.det_size}" if self.det_size else ""
        return f"{self.path.name} runs with {self.info}{size}"

    def __str__(self) -> str:
        return f"{self.summary}: {'; '.join(self.reasons)}" if self.reasons else self.summary


def make_plan(path: Union[str, Path], backend: str = "auto", *, device: Optional[str] = None,
              precision: str = "fp32", providers: Union[str, Sequence[str]] = "auto",
              option_name: Optional[str] = None, det_size: Optional[int] = None,
              batch: str = "file") -> BackendPlan:
    """Decide, once, how ``path`` runs (see the module rule); errors are the loading errors.

    ``device``: a torch device string (``backend`` torch/auto; ONNX Runtime takes ``providers``).
    ``providers``: "auto", a short name ("cuda", "cpu") or a list. ``option_name`` names the device
    setting in messages (``"--device"``, a widget name; None: the keyword ``device=``). ``det_size``:
    a detector size other than the file's own; ``batch="any"``: ONNX Runtime may run a dynamic-batch
    graph of a file fixed to batch 1. Raises :class:`DeviceError` for a device that cannot be used
    and :class:`BackendError` for a backend that cannot run the file."""
    path = Path(path).resolve()
    if backend not in BACKENDS:
        raise BackendError(f"Unknown backend {backend!r}; use one of {', '.join(BACKENDS)}.")
    if batch not in ("file", "any"):
        raise ValueError(f"batch must be 'file' or 'any', not {batch!r}.")
    requested = backend
    planned = None
    if backend == "auto":
        backend, planned, why = _decide_auto(path, device, option_name)
        reasons = [f"backend auto: {why}"]
    else:
        reasons = [f"backend {backend} as asked"]
    common = dict(path=path, requested=requested, det_size=det_size or None, option_name=option_name)
    if backend == "onnxruntime":
        return _ort_plan(common, reasons, planned if providers == "auto" else None, providers, precision, batch)
    return _torch_plan(common, reasons, device, precision)


def _ort_plan(common: dict, reasons: list, planned: Optional[list], providers, precision: str,
              batch: str) -> BackendPlan:
    path: Path = common["path"]
    if path.suffix.lower() != ".onnx":
        raise BackendError(_not_onnx(path.name))
    from . import ort_backend

    if planned is not None:
        chosen = list(planned)  # found (and started) while deciding the backend
    else:
        chosen = ort_backend.resolve_providers(providers)
        if isinstance(providers, str) and providers == "auto":
            reasons.append(f"ONNX Runtime's best provider here is {chosen[0]}" if chosen[0] != _CPU
                           else "this onnxruntime offers no accelerator provider")
        else:
            reasons.append(f"ONNX Runtime providers as asked: {', '.join(chosen)}")
    if precision != "fp32":
        reasons.append(f"ONNX Runtime runs the file as exported (fp32); precision {precision} is for torch")
    derived, can_write = None, False
    if common["det_size"]:
        size = common["det_size"]
        derived = "det_size"
        reasons.append(f"ONNX Runtime runs a {size}x{size} graph of the file's weights "
                       "(written once with torch into the per-user cache)")
    elif batch == "any":
        derived, can_write = "batch", torch_installed()
        reasons.append("a file fixed to batch 1 runs as a graph of the same weights with a dynamic batch"
                       + (" (written once with torch into the per-user cache)" if can_write
                          else " when one was written earlier (PyTorch is not installed to write it)"))
    return BackendPlan(backend="onnxruntime", providers=tuple(chosen), precision="fp32", derived_graph=derived,
                       can_write_graph=can_write, reasons=tuple(reasons), **common)


def _torch_plan(common: dict, reasons: list, device, precision: str) -> BackendPlan:
    try:
        from . import torch_backend
    except ImportError as exc:
        raise BackendError(f"The torch backend is unavailable ({exc}); use backend='onnxruntime'.") from exc
    dev = torch_backend.settle_device(device, precision, common["option_name"])
    chosen_here = device is None or str(device).strip().lower() in ("", "auto")
    reasons.append(f"torch runs on {dev}" + (" (the best device torch can see)" if chosen_here else ""))
    if common["det_size"]:
        size = common["det_size"]
        reasons.append(f"torch runs the file's weights at {size}x{size}")
    return BackendPlan(backend="torch", device=str(dev), precision=precision, reasons=tuple(reasons), **common)


def _not_onnx(name: str) -> str:
    return (f"{name} is not an ONNX file; ONNX Runtime runs .onnx files only. Use backend='torch' for .pth "
            "checkpoints.")


def check_request(models: Iterable[Union[str, Path, None]], backend: str) -> None:
    """Refuse what no plan could run, from the names alone, before anything is resolved or downloaded:
    a checkpoint (.pth, .pt, .ckpt, .safetensors) under backend onnxruntime. One line, a BackendError."""
    if backend != "onnxruntime":
        return
    for model in models:
        if model is None or not str(model).strip() or str(model) in ("none", "None"):
            continue
        name = Path(str(model).strip()).name
        if Path(name).suffix.lower() in CHECKPOINT_SUFFIXES:
            raise BackendError(_not_onnx(name))


def fallback_backend(requested: str, models: Iterable[Union[str, Path]],
                     failed: Optional[BackendPlan] = None) -> Optional[str]:
    """The one fallback rule: "onnxruntime" when ``backend="auto"`` planned torch for models that then
    failed to load (``failed``: the failing plan, when known), ONNX Runtime is installed and every
    model is an .onnx file; else None (the error stands). A :class:`DeviceError` never falls back:
    the caller re-raises it before asking."""
    if requested != "auto" or (failed is not None and failed.backend != "torch"):
        return None
    names = [str(m) for m in models if m]
    if not onnxruntime_installed() or not all(n.lower().endswith(".onnx") for n in names):
        return None
    return "onnxruntime"


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


# ----------------------------------------------------------------------------- the auto rule

def choose_backend(path: Union[str, Path], device: Optional[str] = None, option_name: Optional[str] = None) -> str:
    """The backend ``backend="auto"`` takes for ``path`` on ``device`` (see the module rule)."""
    return _decide_auto(Path(path), device, option_name)[0]


def plan_backend(path: Union[str, Path], device: Optional[str] = None, *, option_name: Optional[str] = None
                 ) -> tuple[str, Optional[list]]:
    """(backend, ONNX Runtime providers to use or None for the default) for ``backend="auto"``."""
    backend, providers, _why = _decide_auto(Path(path), device, option_name)
    return backend, providers


def _decide_auto(path: Path, device, option_name) -> tuple[str, Optional[list], str]:
    """(backend, ONNX Runtime providers found while deciding or None, the reason) for ``backend="auto"``."""
    kind = device_kind(device, option_name)
    if path.suffix.lower() in CHECKPOINT_SUFFIXES:
        return "torch", None, f"{path.name} is a checkpoint; only torch reads it"
    what = ort_only_detector(path)
    if what is not None and kind not in ACCELERATOR_KINDS:
        return "onnxruntime", None, f"{path.name} is {what}; only ONNX Runtime runs it"
    if kind in ACCELERATOR_KINDS:
        return _on_accelerator(path, device, kind, option_name)
    if kind == "cpu":
        said = setting(option_name, device)
        if onnxruntime_installed():
            return "onnxruntime", None, f"{said}: ONNX Runtime ({_FASTER_ON_CPU})"
        return _without_onnxruntime(path, f"{said}, onnxruntime is not installed")
    if not torch_imported() and not system_may_have_accelerator():
        if onnxruntime_installed():
            return "onnxruntime", None, "no GPU driver on this system: ONNX Runtime, without importing torch"
        return _without_onnxruntime(path, "no GPU driver on this system, onnxruntime is not installed")
    return _auto_with_torch(path, device)


def ort_only_detector(path: Path) -> Optional[str]:
    """What a detector graph the torch backend does not implement is (end-to-end, YOLO-NAS), or None.
    Cheap: the registry's word for its name, else an mmdeploy pipeline.json beside it."""
    from ..hub.registry import find_spec

    spec = find_spec(path.name)
    contract = spec.contract if spec is not None and spec.kind == "detector" else None
    if contract is None and path.suffix.lower() == ".onnx" and (
            path.with_name(path.stem + ".pipeline.json").is_file() or path.with_name("pipeline.json").is_file()):
        contract = "end2end"
    if contract == "end2end":
        return "an end-to-end detector (decoding and NMS inside the graph)"
    if contract == "yolo_nas":
        return "a YOLO-NAS detector (uint8 input, NMS inside the graph)"
    return None


def _without_onnxruntime(path: Path, why: str) -> tuple[str, None, str]:
    if _torch_can_run(path):
        return "torch", None, f"{why}: torch"
    return "onnxruntime", None, f"{why} and torch cannot run {path.name}"  # loading says to install it


def _torch_can_run(path: Path) -> bool:
    if not torch_installed():
        return False
    from . import torch_backend

    return torch_backend.can_run(path)


def _on_accelerator(path: Path, device, kind: str, option_name) -> tuple[str, Optional[list], str]:
    said = setting(option_name, device)
    if torch_installed():
        from . import torch_backend

        if torch_backend.accelerator_available(device):
            if torch_backend.can_run(path):
                return "torch", None, f"{said}: torch sees that device"
            problem = f"torch sees it but does not implement {path.name} (not RTMPose/YOLOX)"
        else:
            import torch

            problem = f"torch {torch.__version__} cannot see a {kind.upper()} device"
    else:
        problem = "PyTorch is not installed"
    providers = _ort_provider_for(path, device, kind)
    if providers is not None:
        return "onnxruntime", providers, f"{said}: {problem}; ONNX Runtime's {providers[0]} serves it"
    ort_note = ""
    if kind in ORT_PROVIDERS_FOR:
        ort_note = " and ONNX Runtime offers no GPU provider that starts (install onnxruntime-gpu)"
    raise DeviceError(f"{said}: {problem}{ort_note}. Use {suggest(option_name)} to run "
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


def _auto_with_torch(path: Path, device) -> tuple[str, Optional[list], str]:
    if not torch_installed():
        return "onnxruntime", None, "PyTorch is not installed"
    from . import torch_backend

    if torch_backend.accelerator_available(device):
        if torch_backend.can_run(path):
            return "torch", None, "torch sees an accelerator"
        return "onnxruntime", None, f"torch sees an accelerator but does not implement {path.name} (not RTMPose/YOLOX)"
    if not onnxruntime_installed():
        return _without_onnxruntime(path, "no accelerator torch can see, onnxruntime is not installed")
    why = "no accelerator torch can see"
    try:
        from .ort_backend import CPU, drop_session, get_session, resolve_providers

        providers = resolve_providers("auto")
        if providers[0] == CPU:
            return "onnxruntime", providers, f"{why}, nor ONNX Runtime: its CPU provider ({_FASTER_ON_CPU})"
        session = get_session(path, providers)
        if session.get_providers()[0] == providers[0]:
            return "onnxruntime", providers, f"{why}; ONNX Runtime's {providers[0]} starts"
        drop_session(path, providers)
        why = f"{why}; ONNX Runtime lists {providers[0]} but it does not start"
    except BackendError as exc:
        why = f"{why}; ONNX Runtime cannot use its accelerator ({exc})"
    if torch_backend.can_run(path):
        return "torch", None, f"{why}: torch on the CPU"
    return "onnxruntime", None, f"{why}, and torch does not implement {path.name}"
