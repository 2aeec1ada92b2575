"""The one interface every inference backend implements.

A model takes a float32 batch (N, 3, h, w) and returns its named outputs as
numpy arrays. Stages (detection, pose) own all pre- and post-processing; a
backend only runs the network. A backend may additionally offer the on-device
paths of :class:`DeviceStages` (torch on a GPU: frames go up once as uint8, crops
and letterboxing happen on the device). One rule says when a stage uses them:
:func:`device_path` — when the model offers the path and runs on an accelerator;
on the CPU the stage's own OpenCV path runs (the reference pipeline's pixels).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import DWPoseError


@dataclass(frozen=True)
class BackendInfo:
    """What actually runs a model; reported once and kept on results."""

    backend: str  # "onnxruntime" or "torch"
    device: str  # e.g. "CUDAExecutionProvider", "CPUExecutionProvider", "cuda:0"
    precision: str = "fp32"

    def __str__(self) -> str:
        return f"{self.backend} on {self.device} ({self.precision})"


@runtime_checkable
class InferenceModel(Protocol):
    path: Path
    input_name: str
    input_hw: tuple[int, int]  # (height, width) the network expects
    max_batch: Optional[int]  # None = dynamic batch; 1 = one item per call
    output_names: Sequence[str]
    info: BackendInfo

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run the network on a float32 (N, 3, h, w) batch; N <= max_batch when fixed."""
        ...

    def release(self) -> None:
        """Free the model's memory (GPU memory included)."""
        ...


class DeviceStages(Protocol):
    """Optional on-device pre-processing a model may offer (see :func:`device_path`)."""

    def warp_and_run(self, frames: Sequence[np.ndarray], frame_index: np.ndarray, matrices: np.ndarray,
                     mean: np.ndarray, std: np.ndarray) -> dict[str, np.ndarray]:
        """Affine-crop ``frames[frame_index[i]]`` with ``matrices[i]`` (bilinear, black outside),
        normalise with mean/std and run the network on the crops: the pose stage's path."""
        ...

    def letterbox_and_run(self, frames: Sequence[np.ndarray], *, pad_value: int, bgr: bool,
                          input_hw: Optional[tuple[int, int]] = None) -> tuple[dict[str, np.ndarray], list]:
        """Letterbox the frames (top-left, fill ``pad_value``) and run: the detector's path.
        Returns the outputs and each frame's scale ratio."""
        ...


def device_path(model, name: str):
    """The model's on-device path ``name`` ("warp_and_run" or "letterbox_and_run") when it offers it
    and runs on an accelerator; None otherwise (the stage then uses its own CPU path)."""
    method = getattr(model, name, None)
    if method is None:
        return None
    info = getattr(model, "info", None)
    if info is None or str(getattr(info, "device", "cpu")).startswith("cpu"):
        return None
    return method


PRECISIONS = ("fp32", "fp16", "bf16")  # what the torch backend runs in (ONNX Runtime: as exported)


class BackendError(DWPoseError, RuntimeError):
    """A backend or provider cannot be used; the message says what to do."""


class DeviceError(BackendError):
    """The requested device cannot be used (unknown, not visible, no backend for it). Never fall back
    to the CPU on this error: the user asked for that device; the message names the setting."""
