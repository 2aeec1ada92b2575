"""CSPNeXt backbone (RTMDet / RTMPose), P5 arch, fused BatchNorm.

Written from the published mmdet/mmpose config: stem of three 3x3 convs, four
stages of (stride-2 conv, [SPP in the last], CSP layer with CSPNeXt blocks and
channel attention). Only the last stage's output is used by RTMPose.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import ChannelAttention, ConvAct, DepthwiseSeparable, SPPBottleneck

# (in, out, blocks, add_identity, use_spp) for each stage, before widen/deepen scaling.
P5_STAGES = ((64, 128, 3, True, False), (128, 256, 6, True, False),
             (256, 512, 6, True, False), (512, 1024, 3, False, True))


class CSPNeXtBlock(nn.Module):
    """3x3 conv then 5x5 depthwise-separable conv, with a residual when shapes allow."""

    def __init__(self, channels: int, add_identity: bool, kernel: int = 5):
        super().__init__()
        self.conv1 = ConvAct(channels, channels, 3)
        self.conv2 = DepthwiseSeparable(channels, channels, kernel)
        self.add_identity = add_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPLayer(nn.Module):
    """Cross-stage partial layer: a short 1x1 branch and a main branch of blocks, concatenated.

    Submodules are created (and run) in mmdet's execution order -- short branch
    first -- because ONNX weights are matched to modules in execution order.
    """

    def __init__(self, cin: int, cout: int, num_blocks: int, add_identity: bool, expand_ratio: float = 0.5,
                 channel_attention: bool = True):
        super().__init__()
        mid = int(cout * expand_ratio)
        self.short_conv = ConvAct(cin, mid, 1)
        self.main_conv = ConvAct(cin, mid, 1)
        self.blocks = nn.Sequential(*[CSPNeXtBlock(mid, add_identity) for _ in range(num_blocks)])
        self.attention = ChannelAttention(2 * mid) if channel_attention else None
        self.final_conv = ConvAct(2 * mid, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_short = self.short_conv(x)
        x_main = self.blocks(self.main_conv(x))
        x = torch.cat((x_main, x_short), dim=1)
        if self.attention is not None:
            x = self.attention(x)
        return self.final_conv(x)


class CSPNeXt(nn.Module):
    """Returns the stride-32 feature map of the last stage."""

    def __init__(self, deepen_factor: float, widen_factor: float, expand_ratio: float = 0.5,
                 channel_attention: bool = True):
        super().__init__()
        half, stem = int(P5_STAGES[0][0] * widen_factor // 2), int(P5_STAGES[0][0] * widen_factor)
        self.stem = nn.Sequential(ConvAct(3, half, 3, stride=2), ConvAct(half, half, 3), ConvAct(half, stem, 3))
        for i, (cin, cout, blocks, add_identity, use_spp) in enumerate(P5_STAGES):
            cin, cout = int(cin * widen_factor), int(cout * widen_factor)
            blocks = max(round(blocks * deepen_factor), 1)
            layers: list[nn.Module] = [ConvAct(cin, cout, 3, stride=2)]
            if use_spp:
                layers.append(SPPBottleneck(cout, cout))
            layers.append(CSPLayer(cout, cout, blocks, add_identity, expand_ratio, channel_attention))
            self.add_module(f"stage{i + 1}", nn.Sequential(*layers))
        self.out_channels = int(P5_STAGES[-1][1] * widen_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for i in range(len(P5_STAGES)):
            x = getattr(self, f"stage{i + 1}")(x)
        return x

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of stages 2, 3 and 4 (strides 8, 16, 32): mmpose's default ``out_indices=(2, 3, 4)``,
        what RTMW's neck takes."""
        x = self.stem(x)
        outs = []
        for i in range(len(P5_STAGES)):
            x = getattr(self, f"stage{i + 1}")(x)
            if i >= 1:
                outs.append(x)
        return outs
