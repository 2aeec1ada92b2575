"""Building blocks shared by CSPNeXt (RTMPose) and CSPDarknet (YOLOX), in fused form.

"Fused" means every convolution carries the BatchNorm that followed it in
training folded into its weight and bias (as ONNX exporters do), so a block is
conv (+bias) -> activation and nothing else. Checkpoints that still have
separate BatchNorm tensors are folded once at load (see ``loading.fold_batchnorm``).
Attribute names follow mmdet/mmpose (``.conv`` inside a conv module) so that
state-dict keys line up after folding.
"""
from __future__ import annotations

import torch
from torch import nn


class ConvAct(nn.Module):
    """Conv2d with bias (BatchNorm folded in) followed by SiLU; ``act=False`` for a plain conv."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=True)
        self.act = nn.SiLU() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class DepthwiseSeparable(nn.Module):
    """Depthwise conv + pointwise conv, each with its own activation (mmcv's DepthwiseSeparableConvModule)."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__()
        self.depthwise_conv = ConvAct(cin, cin, kernel, groups=cin)
        self.pointwise_conv = ConvAct(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class ChannelAttention(nn.Module):
    """Global average pool -> 1x1 conv -> hard sigmoid -> rescale channels (CSPNeXt)."""

    def __init__(self, channels: int):
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Pool in float32: a mean over many half-precision values loses digits.
        pooled = x.float().mean(dim=(2, 3), keepdim=True).to(x.dtype)
        return x * nn.functional.hardsigmoid(self.fc(pooled))


class SPPBottleneck(nn.Module):
    """1x1 conv, max-pools of several sizes concatenated with their input, 1x1 conv."""

    def __init__(self, cin: int, cout: int, kernel_sizes=(5, 9, 13)):
        super().__init__()
        mid = cin // 2
        self.conv1 = ConvAct(cin, mid, 1)
        self.kernel_sizes = tuple(kernel_sizes)
        self.conv2 = ConvAct(mid * (len(self.kernel_sizes) + 1), cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        pools = [nn.functional.max_pool2d(x, k, stride=1, padding=k // 2) for k in self.kernel_sizes]
        return self.conv2(torch.cat([x] + pools, dim=1))
