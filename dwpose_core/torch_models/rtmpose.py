"""RTMPose (top-down, SimCC): CSPNeXt backbone + RTMCC head, and the DWPose variants.

Input (N, 3, H, W) normalised RGB; outputs ``simcc_x`` (N, K, W*2) and
``simcc_y`` (N, K, H*2) logits, as the published ONNX files. The same spec with
``arch="rtmw"`` describes RTMW (neck + two-scale head, :mod:`.rtmw`), which has
the same contract.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .cspnext import CSPNeXt
from .rtmcc_head import RTMCCHead
from .rtmw import RTMW

# name -> (deepen_factor, widen_factor), from the RTMPose configs. DWPose tt/ss/mm/ll are t/s/m/l.
# RTMW-m/l/x use the m/l/x factors too (cocktail14 configs).
VARIANTS = {"t": (0.167, 0.375), "s": (0.33, 0.5), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}


@dataclass(frozen=True)
class RTMPoseSpec:
    variant: str = "l"
    input_hw: tuple[int, int] = (256, 192)
    num_keypoints: int = 133
    split_ratio: float = 2.0
    arch: str = "rtmpose"  # "rtmpose" (CSPNeXt + RTMCC head) or "rtmw" (+ CSPNeXtPAFPN, RTMW head)

    kind = "rtmpose"
    input_name = "input"
    output_names = ("simcc_x", "simcc_y")

    @property
    def title(self) -> str:
        family = "RTMW" if self.arch == "rtmw" else "RTMPose"
        return f"{family}-{self.variant} {self.input_hw[0]}x{self.input_hw[1]} ({self.num_keypoints} keypoints)"

    def build(self) -> nn.Module:
        if self.arch == "rtmw":
            if self.variant not in VARIANTS:
                raise ValueError(f"Unknown RTMW variant {self.variant!r}; known: {', '.join(VARIANTS)}")
            return RTMW(self, *VARIANTS[self.variant])
        if self.arch != "rtmpose":
            raise ValueError(f"Unknown pose architecture {self.arch!r}; known: rtmpose, rtmw")
        return RTMPose(self)


class RTMPose(nn.Module):
    def __init__(self, spec: RTMPoseSpec):
        super().__init__()
        if spec.variant not in VARIANTS:
            raise ValueError(f"Unknown RTMPose variant {spec.variant!r}; known: {', '.join(VARIANTS)}")
        deepen, widen = VARIANTS[spec.variant]
        self.spec = spec
        self.backbone = CSPNeXt(deepen, widen)
        self.head = RTMCCHead(self.backbone.out_channels, spec.num_keypoints, spec.input_hw, spec.split_ratio)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.backbone(x))

    def set_compute_dtype(self, dtype: torch.dtype) -> "RTMPose":
        """Convolutions in ``dtype``; the token part of the head stays float32 (see rtmcc_head)."""
        self.backbone.to(dtype)
        self.head.final_layer.to(dtype)
        for name in ("mlp", "gau", "cls_x", "cls_y"):
            getattr(self.head, name).float()
        return self
