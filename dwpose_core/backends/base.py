"""The one interface every inference backend implements.

A model takes a float32 batch (N, 3, h, w) and returns its named outputs as
numpy arrays. Stages (detection, pose) own all pre- and post-processing; a
backend only runs the network. A backend may additionally offer
``warp_and_run`` to do the pose crop/normalise on its own device (torch on a
GPU); stages use it when present.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol, Sequence, runtime_checkable

import numpy as np


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


class BackendError(RuntimeError):
    """A backend or provider cannot be used; the message says what to do."""


class DeviceError(BackendError):
    """The requested device cannot be used (unknown, not visible, no backend for it). Never fall back
    to the CPU on this error: the user asked for that device; the message names the setting."""
