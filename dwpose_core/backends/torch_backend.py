"""Torch backend: our own RTMPose/YOLOX modules on any torch device, fp32/fp16/bf16.

Runs where ComfyUI/A1111 already run torch (CUDA, ROCm, MPS, XPU, CPU), so GPU
users do not need onnxruntime-gpu. Weights come from the published ONNX files
or mmpose ``.pth`` checkpoints (see ``dwpose_core.torch_models.loading``).

* Any batch size: batches are split into chunks (``chunk_size``); on running
  out of GPU memory a chunk is halved and retried.
* Precision: convolutions run in the requested dtype; RTMPose's small token head
  always runs in float32. Outputs are float32 numpy arrays.
* ``warp_and_run`` / ``letterbox_and_run`` do the crop / letterbox on the device
  from uint8 frames (see ``torch_models.preprocess``).
* ``offload=True`` keeps the weights on the CPU between runs; ``release()`` frees
  everything, GPU memory included.
* The device: a ``torch.device`` is taken as decided (the backend plan, ``backends.plan``, settles
  it once with :func:`settle_device`); a string or None is settled here, for direct use.

This module does not import torch at import time (ComfyUI start-up stays fast).
"""
from __future__ import annotations

import gc
import logging
import os
import threading
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from .base import PRECISIONS, BackendError, BackendInfo, DeviceError
from .devices import setting, suggest

log = logging.getLogger("dwpose")

ACCELERATORS = ("cuda", "xpu", "mps")
# Items per forward pass by default (accelerator, cpu): enough to fill a GPU, small enough for 8 GB cards.
DEFAULT_CHUNKS = {"rtmpose": (128, 8), "yolox": (16, 2)}


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise BackendError("The torch backend needs PyTorch, which is not installed; "
                           "use backend='onnxruntime'.") from exc
    return torch


def _available(torch, kind: str) -> bool:
    if kind == "cpu":
        return True
    if kind == "cuda":  # ROCm builds report through torch.cuda as well
        return torch.cuda.is_available()
    if kind == "xpu":
        return hasattr(torch, "xpu") and torch.xpu.is_available()
    if kind == "mps":
        return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    return False


def accelerator_available(device: Optional[str] = None) -> bool:
    """Whether torch can run on an accelerator: the one named by ``device``, or any when None/"auto"."""
    try:
        import torch
    except ImportError:
        return False
    if device in (None, "", "auto"):
        return any(_available(torch, kind) for kind in ACCELERATORS)
    kind = str(device).split(":")[0].lower()
    return kind in ACCELERATORS and _available(torch, kind)


def can_run(path: Union[str, Path]) -> bool:
    """Whether torch is installed and ``path`` holds an architecture it implements (RTMPose, YOLOX)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    from ..torch_models.loading import recognise

    return recognise(path) is not None


def resolve_device(device=None, option_name: Optional[str] = None):
    """torch.device for a request: None/"auto" = best available accelerator, else CPU.

    ``option_name`` words the errors for where the device was chosen (``--device``, a widget)."""
    torch = _torch()
    if device is None or str(device) in ("", "auto"):
        for kind in ACCELERATORS:
            if _available(torch, kind):
                return torch.device(kind)
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(f"{setting(option_name, device)}: Unknown torch device {device!r}; use auto, cpu, "
                           "cuda, cuda:N, mps or xpu.") from exc
    if not _available(torch, dev.type):
        raise DeviceError(f"{setting(option_name, device)}: torch cannot see the device {device!r} "
                           f"(torch {torch.__version__}); use {suggest(option_name)} or install a torch build "
                           "for your GPU.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DeviceError(f"{setting(option_name, device)}: only {torch.cuda.device_count()} CUDA device(s) "
                           f"visible; use {suggest(option_name, 'cuda:0')}.")
    return dev


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise BackendError(f"Unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}.")


def settle_device(device=None, precision: str = "fp32", option_name: Optional[str] = None):
    """The torch.device a model runs on in ``precision``, checked once: PyTorch is installed, the
    precision is known, the device exists and is visible (:func:`resolve_device`) and runs that precision."""
    torch = _torch()
    check_precision(precision)
    dev = resolve_device(device, option_name)
    if dev.type == "mps" and precision == "bf16" and not _mps_bf16_ok(torch):
        raise BackendError("bf16 is not supported on this Mac's MPS; use precision='fp16'.")
    return dev


def _empty_cache(torch, dev) -> None:
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    elif dev.type == "mps":
        torch.mps.empty_cache()
    elif dev.type == "xpu":
        torch.xpu.empty_cache()


def _is_oom(exc: BaseException) -> bool:
    return "out of memory" in str(exc).lower()


class TorchModel:
    """InferenceModel running our torch-native network for an ONNX / .pth / .safetensors file.

    ``device``: a ``torch.device`` runs there as decided (by the backend plan); a string or None
    (best accelerator, else CPU) is settled with :func:`settle_device`."""

    def __init__(self, path: Union[str, Path], device=None, precision: str = "fp32", *,
                 offload: bool = False, cache: Optional[bool] = None, chunk_size: Optional[int] = None,
                 option_name: Optional[str] = None):
        torch = _torch()
        if cache is None:  # converted-checkpoint cache next to .pth files; DWPOSE_TORCH_CACHE=0 turns it off
            cache = os.environ.get("DWPOSE_TORCH_CACHE", "1") != "0"
        from ..torch_models.loading import build_network, load_weights

        check_precision(precision)
        self.path = Path(path)
        self.plan = None  # the BackendPlan it was loaded with, when loaded through dwpose_core.backends
        if isinstance(device, torch.device):
            self.device = device  # decided by the caller (the backend plan)
        else:
            self.device = settle_device(device, precision, option_name)
        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        try:
            spec, state = load_weights(self.path, cache=cache)
            net = build_network(spec, state, self.path.name)
        except (ValueError, FileNotFoundError) as exc:  # ArchitectureMismatch, WeightsFormatError
            raise BackendError(str(exc)) from exc
        self.spec = spec
        net.set_compute_dtype(self.dtype)
        self.channels_last = self.device.type in ("cuda", "cpu", "xpu")
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        if self.device.type == "cuda" and os.environ.get("DWPOSE_CUDNN_BENCHMARK") == "1":
            # Opt-in: cuDNN autotuning is process-wide, so it is ComfyUI's/A1111's choice by default.
            torch.backends.cudnn.benchmark = True
        self.offload_between_runs = offload
        self.net = net if offload else net.to(self.device)
        self.input_name = spec.input_name
        self.input_hw = tuple(spec.input_hw)
        self.max_batch: Optional[int] = None
        self.output_names = list(spec.output_names)
        self.precision = precision
        self.info = BackendInfo("torch", str(self.device), precision)
        accel, cpu = DEFAULT_CHUNKS[spec.kind]
        self.chunk_size = int(chunk_size or (cpu if self.device.type == "cpu" else accel))
        self._lock = threading.Lock()
        log.debug("DWPose: %s loaded as %s on %s (%s)", self.path.name, spec.title, self.device, precision)

    # ------------------------------------------------------------------ input size
    def supports_input_hw(self, hw) -> bool:
        """Whether the network runs at ``hw``: YOLOX at any multiple of 32 (it is fully convolutional)."""
        hw = tuple(int(v) for v in hw)
        if hw == tuple(self.spec.input_hw):
            return True
        return self.spec.kind == "yolox" and len(hw) == 2 and all(v >= 32 and v % 32 == 0 for v in hw)

    def set_input_hw(self, hw) -> None:
        """Run at ``hw`` from now on (a detector size; see ``supports_input_hw``)."""
        hw = tuple(int(v) for v in hw)
        if not self.supports_input_hw(hw):
            raise BackendError(f"{self.path.name} ({self.spec.title}) cannot run at {hw[1]}x{hw[0]}.")
        self.input_hw = hw

    # ------------------------------------------------------------------ memory
    def to_device(self) -> None:
        """Move the weights to the compute device (done automatically by run)."""
        if self.net is None:
            raise BackendError(f"{self.path.name} was released; load it again.")
        if next(self.net.parameters()).device != self.device:
            self.net.to(self.device)

    def offload(self) -> None:
        """Move the weights to the CPU and free the device memory they held."""
        torch = _torch()
        if self.net is not None and self.device.type != "cpu":
            self.net.to("cpu")
            _empty_cache(torch, self.device)

    def release(self) -> None:
        torch = _torch()
        with self._lock:
            self.net = None
            gc.collect()
            if self.device.type != "cpu":
                _empty_cache(torch, self.device)

    # ------------------------------------------------------------------ inference
    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run the network on a float32 (N, 3, h, w) batch; returns float32 numpy outputs."""
        torch = _torch()
        batch = np.asarray(batch, dtype=np.float32)
        self._check_batch(batch.shape)
        return self._forward_chunks(lambda lo, hi: self._layout(
            torch.from_numpy(np.ascontiguousarray(batch[lo:hi])).to(self.device).to(self.dtype)), batch.shape[0],
            tuple(batch.shape[2:]))

    def warp_and_run(self, frames: Sequence[np.ndarray], frame_index: np.ndarray, matrices: np.ndarray,
                     mean: Sequence[float], std: Sequence[float]) -> dict[str, np.ndarray]:
        """Pose crops on the device: crop i = warpAffine(frames[frame_index[i]], matrices[i]), normalised.

        ``frames`` are uint8 RGB HxWx3; ``matrices`` (N, 2, 3) are OpenCV-style
        forward affines (frame -> crop); the result equals running ``run`` on
        crops made with cv2.warpAffine (bilinear, black border) within a grey level.
        """
        from ..torch_models.preprocess import crops_for_model

        frame_index = np.asarray(frame_index, dtype=np.int64).reshape(-1)
        matrices = np.asarray(matrices, dtype=np.float64).reshape(-1, 2, 3)
        if len(frame_index) != len(matrices):
            raise ValueError(f"{len(frame_index)} frame indices but {len(matrices)} matrices")
        for i in np.unique(frame_index):
            f = frames[int(i)]
            if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
                raise ValueError(f"frame {i}: expected HxWx3 uint8 RGB, got {f.dtype} {f.shape}")

        def make(lo: int, hi: int):
            return self._layout(crops_for_model(frames, frame_index[lo:hi], matrices[lo:hi], self.input_hw,
                                                mean, std, self.device, self.dtype))

        return self._forward_chunks(make, len(frame_index))

    def letterbox_and_run(self, frames: Sequence[np.ndarray], pad_value: float = 114.0,
                          bgr: bool = True, input_hw=None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """YOLOX preprocessing on the device from uint8 RGB frames; returns (outputs, scale ratios)."""
        from ..torch_models.preprocess import letterbox

        hw = tuple(input_hw or self.input_hw)
        if not self.supports_input_hw(hw):
            raise BackendError(f"{self.path.name} ({self.spec.title}) cannot run at {hw[1]}x{hw[0]}.")
        ratios = np.empty(len(frames), dtype=np.float64)

        def make(lo: int, hi: int):
            batch, r = letterbox(frames[lo:hi], hw, self.device, self.dtype, pad_value, bgr)
            ratios[lo:hi] = r
            return self._layout(batch)

        return self._forward_chunks(make, len(frames), hw), ratios

    # ------------------------------------------------------------------ internals
    def _check_batch(self, shape) -> None:
        if len(shape) != 4 or shape[1] != 3 or not (tuple(shape[2:]) == self.input_hw
                                                     or self.supports_input_hw(shape[2:])):
            raise BackendError(f"{self.path.name} expects a (N, 3, {self.input_hw[0]}, {self.input_hw[1]}) batch, "
                               f"got {tuple(shape)}.")

    def _layout(self, x):
        torch = _torch()
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _forward_chunks(self, make_input, total: int, input_hw=None) -> dict[str, np.ndarray]:
        """Run ``make_input(lo, hi)`` batches through the network in chunks; halve the chunk on OOM."""
        torch = _torch()
        if total == 0:
            return self._empty_outputs(input_hw)
        with self._lock:
            if self.net is None:
                raise BackendError(f"{self.path.name} was released; load it again.")
            self.to_device()
            outputs: list[list[np.ndarray]] = [[] for _ in self.output_names]
            try:
                lo, chunk = 0, self.chunk_size
                while lo < total:
                    hi = min(lo + chunk, total)
                    try:
                        results = self._forward(make_input(lo, hi))
                    except RuntimeError as exc:
                        if not _is_oom(exc) or chunk == 1:
                            raise
                        _empty_cache(torch, self.device)
                        chunk = max(1, chunk // 2)
                        log.warning("DWPose: out of memory on %s; retrying with chunks of %d", self.device, chunk)
                        continue
                    for store, value in zip(outputs, results):
                        store.append(value)
                    lo = hi
                if chunk != self.chunk_size:
                    self.chunk_size = chunk  # remember what fits
            finally:
                if self.offload_between_runs:
                    self.offload()
        return {name: np.concatenate(parts) for name, parts in zip(self.output_names, outputs)}

    def _forward(self, x) -> list[np.ndarray]:
        torch = _torch()
        with torch.inference_mode():
            out = self.net(x.to(self.dtype))
            out = out if isinstance(out, tuple) else (out,)
            return [o.float().cpu().numpy() for o in out]

    def _empty_outputs(self, input_hw=None) -> dict[str, np.ndarray]:
        shapes = self._output_tail_shapes(input_hw)
        return {name: np.zeros((0, *tail), np.float32) for name, tail in zip(self.output_names, shapes)}

    def _output_tail_shapes(self, input_hw=None) -> list[tuple[int, ...]]:
        spec = self.spec
        h, w = input_hw or self.input_hw
        if spec.kind == "rtmpose":
            return [(spec.num_keypoints, int(w * spec.split_ratio)), (spec.num_keypoints, int(h * spec.split_ratio))]
        anchors = sum((h // s) * (w // s) for s in (8, 16, 32))
        return [(anchors, 5 + spec.num_classes)]


def _mps_bf16_ok(torch) -> bool:
    try:
        torch.zeros(1, dtype=torch.bfloat16, device="mps")
        return True
    except Exception:  # older macOS / torch
        return False
