"""CSPNeXtPAFPN: the path-aggregation neck of RTMW, in fused-BatchNorm form.

Written from mmpose 1.3's published description (``mmpose/models/necks/cspnext_pafpn.py``
and the ``cocktail14/rtmw-*`` configs): three backbone features (strides 8, 16, 32) go
through a top-down path (1x1 reduce conv, nearest 2x upsample, concatenate with the finer
feature, CSP layer) and a bottom-up path (3x3 stride-2 conv, concatenate with the reduced
coarser feature, CSP layer). The CSP layers use CSPNeXt blocks without channel attention
and without identity shortcuts; RTMW keeps the outputs at strides 16 and 32
(``out_indices=(1, 2)``, ``out_channels=None``: no output convs).

Submodule names follow mmpose so checkpoint keys line up; modules are created and run in
mmpose's execution order, because ONNX weights are matched to modules in execution order.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .cspnext import CSPLayer
from .layers import ConvAct


class CSPNeXtPAFPN(nn.Module):
    def __init__(self, in_channels: Sequence[int], num_csp_blocks: int = 2, expand_ratio: float = 0.5,
                 out_indices: Sequence[int] = (1, 2)):
        super().__init__()
        self.in_channels = tuple(int(c) for c in in_channels)
        self.out_indices = tuple(out_indices)
        chans = self.in_channels
        levels = len(chans)
        self.reduce_layers = nn.ModuleList()
        self.top_down_blocks = nn.ModuleList()
        for idx in range(levels - 1, 0, -1):
            self.reduce_layers.append(ConvAct(chans[idx], chans[idx - 1], 1))
            self.top_down_blocks.append(CSPLayer(chans[idx - 1] * 2, chans[idx - 1], num_csp_blocks,
                                                 add_identity=False, expand_ratio=expand_ratio,
                                                 channel_attention=False))
        self.downsamples = nn.ModuleList()
        self.bottom_up_blocks = nn.ModuleList()
        for idx in range(levels - 1):
            self.downsamples.append(ConvAct(chans[idx], chans[idx], 3, stride=2))
            self.bottom_up_blocks.append(CSPLayer(chans[idx] * 2, chans[idx + 1], num_csp_blocks,
                                                  add_identity=False, expand_ratio=expand_ratio,
                                                  channel_attention=False))

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        levels = len(self.in_channels)
        if len(inputs) != levels:
            raise ValueError(f"CSPNeXtPAFPN takes {levels} feature maps, got {len(inputs)}.")
        # Top-down: the coarse feature is reduced (and kept, reduced, for the bottom-up path).
        inner = [inputs[-1]]
        for step, idx in enumerate(range(levels - 1, 0, -1)):
            high = self.reduce_layers[step](inner[0])
            inner[0] = high
            up = nn.functional.interpolate(high, scale_factor=2.0, mode="nearest")
            inner.insert(0, self.top_down_blocks[step](torch.cat([up, inputs[idx - 1]], 1)))
        # Bottom-up.
        outs = [inner[0]]
        for idx in range(levels - 1):
            down = self.downsamples[idx](outs[-1])
            outs.append(self.bottom_up_blocks[idx](torch.cat([down, inner[idx + 1]], 1)))
        return tuple(outs[i] for i in self.out_indices)
