"""RTMW (RTMPose-Wholebody, mmpose 1.3, arXiv 2407.08634): CSPNeXt + CSPNeXtPAFPN + RTMW head.

Same contract as RTMPose/DWPose: input (N, 3, H, W) normalised RGB; outputs
``simcc_x`` (N, K, W*2) and ``simcc_y`` (N, K, H*2). The backbone's stage 2-4 features
(strides 8/16/32) go through the neck, whose stride-16 and stride-32 outputs feed the
head. Built from :class:`.rtmpose.RTMPoseSpec` with ``arch="rtmw"`` (so the backends,
which know the RTMPose contract, run it unchanged).
"""
from __future__ import annotations

import torch
from torch import nn

from .cspnext import P5_STAGES, CSPNeXt
from .cspnext_pafpn import CSPNeXtPAFPN
from .rtmw_head import RTMWHead

# RTMW configs: two CSP blocks per neck layer whatever the model size.
NECK_CSP_BLOCKS = 2


class RTMW(nn.Module):
    def __init__(self, spec, deepen: float, widen: float):
        super().__init__()
        self.spec = spec
        self.backbone = CSPNeXt(deepen, widen)
        channels = [int(cout * widen) for _, cout, *_ in P5_STAGES[1:]]
        self.neck = CSPNeXtPAFPN(channels, NECK_CSP_BLOCKS)
        self.head = RTMWHead(channels[-1], spec.num_keypoints, spec.input_hw, spec.split_ratio)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.neck(self.backbone.forward_stages(x)))

    def set_compute_dtype(self, dtype: torch.dtype) -> "RTMW":
        """Convolutions in ``dtype``; the token part of the head stays float32 (see rtmw_head)."""
        self.to(dtype)
        for module in self.head.float_part():
            module.float()
        return self
