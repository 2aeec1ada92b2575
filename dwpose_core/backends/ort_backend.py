"""ONNX Runtime backend: explicit provider choice, one session per (file, providers).

``providers="auto"`` takes the best accelerator provider the installed
onnxruntime offers, else CPU, and says which. Naming a provider explicitly
that is not available is an error, never a silent CPU fallback. The backend
plan (``backends.plan``) resolves the list once; :class:`OrtModel` takes a
resolved list as it is.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from .base import BackendError, BackendInfo

log = logging.getLogger("dwpose")

# Best first. CPU is the last resort and is always available.
ACCELERATOR_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "ROCMExecutionProvider",
    "MIGraphXExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
    "OpenVINOExecutionProvider",
)
CPU = "CPUExecutionProvider"
# Short names users may type.
ALIASES = {
    "cpu": CPU, "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider", "migraphx": "MIGraphXExecutionProvider",
    "directml": "DmlExecutionProvider", "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider", "openvino": "OpenVINOExecutionProvider",
}

_sessions: dict[tuple, "object"] = {}
_lock = threading.Lock()


def _ort():
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendError(
            "onnxruntime is not installed. Install exactly one of: `pip install onnxruntime-gpu` "
            "(NVIDIA GPU) or `pip install onnxruntime` (CPU), or use the torch backend."
        ) from exc
    return onnxruntime


def available_providers() -> list[str]:
    return list(_ort().get_available_providers())


def resolve_providers(providers: Union[str, Sequence[str]] = "auto") -> list[str]:
    """Turn a provider request into the explicit list handed to ONNX Runtime."""
    available = available_providers()
    if isinstance(providers, str):
        if providers == "auto":
            # TensorRT builds engines for minutes on first use; only take it when asked.
            for name in ACCELERATOR_PROVIDERS[1:]:
                if name in available:
                    return [name, CPU]
            return [CPU]
        providers = [providers]
    wanted = provider_names(providers)
    missing = [p for p in wanted if p not in available]
    if missing:
        hint = ""
        if any(p in ("CUDAExecutionProvider", "TensorrtExecutionProvider") for p in missing):
            hint = (
                " For NVIDIA GPUs install onnxruntime-gpu matching your CUDA and uninstall the CPU "
                "package (`pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu`), "
                "or use the torch backend, which runs on the GPU without onnxruntime-gpu."
            )
        raise BackendError(
            f"ONNX Runtime provider(s) {', '.join(missing)} not available; this onnxruntime offers "
            f"{', '.join(available)}.{hint}"
        )
    return wanted


def provider_names(providers: Sequence[str]) -> list[str]:
    """Full provider names for ``providers`` (short names expanded), CPU last for the ops an
    accelerator does not cover (as ORT itself does). Asks onnxruntime nothing."""
    wanted = [ALIASES.get(p.lower(), p) for p in providers]
    if CPU not in wanted:
        wanted.append(CPU)
    return wanted


def get_session(path: Path, providers: list[str]):
    """One InferenceSession per (file, providers) per process; ORT's run() is thread-safe."""
    key = (str(Path(path).resolve()), tuple(providers))
    with _lock:
        session = _sessions.get(key)
        if session is None:
            ort = _ort()
            session = _cached_optimised_session(ort, Path(path), providers)
            if session is None:
                options = ort.SessionOptions()
                options.log_severity_level = 3
                target = _optimised_target(ort, Path(path), providers)
                if target is not None:
                    options.optimized_model_filepath = str(target.with_name(f".{target.name}.{os.getpid()}.tmp"))
                try:
                    session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
                except Exception as exc:  # onnxruntime raises its own exception types
                    raise BackendError(
                        f"ONNX Runtime could not load {path}: {exc}. The file may be corrupt or truncated; "
                        "delete it and download it again (python -m dwpose_core models download)."
                    ) from exc
                if target is not None:
                    _keep_optimised(Path(options.optimized_model_filepath), target)
            _sessions[key] = session
    return session


def _optimised_target(ort, path: Path, providers: list[str]) -> Optional[Path]:
    """Where to save ORT's optimised graph of ``path`` (CPU provider only), or None."""
    if list(providers) != [CPU]:
        return None
    from .ort_optimized import optimised_path

    target = optimised_path(path, ort.__version__)
    if target is None:
        return None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return target


def _cached_optimised_session(ort, path: Path, providers: list[str]):
    """A session on the saved optimised graph of ``path`` (optimiser off), or None."""
    if list(providers) != [CPU]:
        return None
    from .ort_optimized import optimised_path, verified

    target = optimised_path(path, ort.__version__)
    if target is None or not verified(target):
        return None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        return ort.InferenceSession(str(target), sess_options=options, providers=providers)
    except Exception:  # noqa: BLE001 - a damaged cache entry: optimise again from the file itself
        log.info("DWPose: the saved optimised graph %s could not be loaded; optimising %s again.",
                 target, path.name)
        return None


def _keep_optimised(tmp: Path, target: Path) -> None:
    from .ort_optimized import record

    try:
        if tmp.is_file() and tmp.stat().st_size > 0:
            os.replace(tmp, target)
            record(target)
    except OSError:  # a read-only or full cache: only the next start pays the optimiser again
        pass
    finally:
        tmp.unlink(missing_ok=True)


def drop_session(path: Path, providers: list[str]) -> None:
    with _lock:
        _sessions.pop((str(Path(path).resolve()), tuple(providers)), None)


class OrtModel:
    """An ONNX file run by ONNX Runtime; input size and batch read from the graph.

    ``providers``: a list is the decided provider list, best first (as :func:`resolve_providers`
    or the backend plan returns it), used as it is; a string ("auto", "cpu", "cuda", ...) is
    resolved here, for direct use."""

    def __init__(self, path: Union[str, Path], providers: Union[str, Sequence[str]] = "auto"):
        self.path = Path(path)
        self.plan = None  # the BackendPlan it was loaded with, when loaded through dwpose_core.backends
        self.providers = resolve_providers(providers) if isinstance(providers, str) else provider_names(providers)
        self.session = get_session(self.path, self.providers)
        used = self.session.get_providers()
        requested_accel = [p for p in self.providers if p != CPU]
        if requested_accel and requested_accel[0] not in used:
            # ORT falls back silently when a provider fails to initialise (wrong CUDA, missing DLLs).
            raise BackendError(
                f"ONNX Runtime could not start {requested_accel[0]} for {self.path.name} "
                f"(running providers: {', '.join(used)}). Check that onnxruntime-gpu matches your "
                "CUDA/cuDNN, or use the torch backend."
            )
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = list(inp.shape)
        if len(shape) != 4:
            raise BackendError(f"{self.path.name}: expected a 4-D image input, found {inp.name} {shape}.")
        self.max_batch: Optional[int] = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        h, w = shape[2], shape[3]
        self.output_names = [o.name for o in self.session.get_outputs()]
        # uint8 for graphs that take the image as bytes (YOLO-NAS exports), float32 otherwise.
        self.input_dtype = np.uint8 if inp.type == "tensor(uint8)" else np.float32
        if isinstance(h, int) and isinstance(w, int):
            self.input_hw: Optional[tuple[int, int]] = (h, w)
        elif {"dets", "labels"} <= set(self.output_names):
            self.input_hw = None  # an end-to-end detector: its size comes from its pipeline.json (stages/detection)
        else:
            raise BackendError(f"{self.path.name}: the input size must be fixed in the graph, found {shape}.")
        self.info = BackendInfo("onnxruntime", used[0], "fp32")

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=self.input_dtype)
        if self.max_batch is not None and batch.shape[0] > self.max_batch:
            outs = [self.run(batch[i:i + self.max_batch]) for i in range(0, batch.shape[0], self.max_batch)]
            return {k: np.concatenate([o[k] for o in outs]) for k in self.output_names}
        results = self.session.run(self.output_names, {self.input_name: batch})
        return dict(zip(self.output_names, results))

    def release(self) -> None:
        drop_session(self.path, self.providers)
        self.session = None
