"""Backend selection and the process-wide model cache.

``load_model(path, backend=..., ...)`` returns an :class:`InferenceModel`,
created once per process per (file, backend, device, precision, providers)
and shared thread-safely. ``backend="auto"`` resolves with
:func:`choose_backend`; the choice is logged once and kept on ``model.info``.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Optional, Sequence, Union

from .base import BackendError, BackendInfo, InferenceModel

__all__ = ["BackendError", "BackendInfo", "InferenceModel", "load_model", "release_model", "release_all",
           "choose_backend"]

log = logging.getLogger("dwpose")

BACKENDS = ("auto", "torch", "onnxruntime")

_cache: dict[tuple, InferenceModel] = {}
_users: dict[int, int] = {}  # id(model) -> how many holders loaded it; freed when the last releases
_lock = threading.Lock()
_reported: set[tuple] = set()


def choose_backend(path: Union[str, Path], device: Optional[str] = None) -> str:
    """Pick the backend for ``backend="auto"``.

    1. Checkpoints (.pth/.pt/.ckpt/.safetensors) need torch.
    2. Graphs torch cannot run (not RTMPose/YOLOX, or torch missing) go to ONNX Runtime.
    3. torch on an accelerator torch can see (or the one ``device`` names).
    4. ONNX Runtime otherwise: with its accelerator provider if one is offered and a session
       really starts on it (that session is kept for reuse); on the CPU because its CPU
       provider measured faster than torch-cpu (1.35x on 64 video frames, half the memory;
       benchmarks/run.py; README, "Backend auto").
    5. torch on the CPU when onnxruntime is not installed, or when its accelerator provider
       is listed but fails to start (ONNX Runtime would refuse it rather than fall back).
    """
    import importlib.util

    path = Path(path)
    if path.suffix.lower() in (".pth", ".pt", ".ckpt", ".safetensors"):
        return "torch"
    try:
        from . import torch_backend
    except ImportError:
        return "onnxruntime"
    if torch_backend.accelerator_available(device):
        return "torch" if torch_backend.can_run(path) else "onnxruntime"
    if importlib.util.find_spec("onnxruntime") is None:
        return "torch" if torch_backend.can_run(path) else "onnxruntime"  # the latter says to install it
    if str(device).lower() == "cpu":
        return "onnxruntime"
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


def load_model(
    path: Union[str, Path],
    *,
    backend: str = "auto",
    device: Optional[str] = None,
    precision: str = "fp32",
    providers: Union[str, Sequence[str]] = "auto",
) -> InferenceModel:
    """Load (or reuse) the model in ``path`` on the chosen backend."""
    path = Path(path).resolve()
    if backend not in BACKENDS:
        raise BackendError(f"Unknown backend {backend!r}; use one of {', '.join(BACKENDS)}.")
    if backend == "auto":
        backend = choose_backend(path, device)
    prov_key = providers if isinstance(providers, str) else tuple(providers)
    key = (str(path), backend, device, precision, prov_key)
    with _lock:
        model = _cache.get(key)
        if model is None:
            model = _create(path, backend, device, precision, providers)
            _cache[key] = model
        _users[id(model)] = _users.get(id(model), 0) + 1
    report_key = (str(path), str(model.info))
    if report_key not in _reported:
        _reported.add(report_key)
        log.info("DWPose: %s runs with %s", path.name, model.info)
    return model


def _create(path: Path, backend: str, device, precision, providers) -> InferenceModel:
    if backend == "onnxruntime":
        if path.suffix != ".onnx":
            raise BackendError(
                f"{path.name} is not an ONNX file; ONNX Runtime runs .onnx files only. "
                "Use backend='torch' for .pth checkpoints."
            )
        from .ort_backend import OrtModel

        return OrtModel(path, providers=providers)
    try:
        from .torch_backend import TorchModel
    except ImportError as exc:
        raise BackendError(f"The torch backend is unavailable ({exc}); use backend='onnxruntime'.") from exc
    return TorchModel(path, device=device, precision=precision)


def release_all() -> None:
    """Drop every cached model and free its memory (whoever still holds it)."""
    with _lock:
        models = list(_cache.values())
        _cache.clear()
        _users.clear()
    for model in models:
        model.release()


def release_model(model: InferenceModel) -> None:
    """Give back one holder's use of a model; it is freed when no holder is left."""
    with _lock:
        left = _users.get(id(model), 1) - 1
        if left > 0:
            _users[id(model)] = left
            return
        _users.pop(id(model), None)
        for key, cached in list(_cache.items()):
            if cached is model:
                del _cache[key]
    model.release()
