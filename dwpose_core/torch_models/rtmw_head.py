"""RTMW head: two-scale SimCC head of RTMPose-Wholebody, in fused-BatchNorm form.

Written from mmpose 1.3's published description (``mmpose/models/heads/coord_cls_heads/
rtmw_head.py``, configs ``cocktail14/rtmw-*``):

* stride-32 feature (C channels) -> 7x7 conv + BN + ReLU to one map per keypoint ->
  flatten -> ScaleNorm + linear to hidden/2 (``final_layer``, ``mlp``);
* the same feature through PixelShuffle(2) (C/4 channels at stride 16) -> 7x7 conv + BN +
  ReLU (``conv_dec``), concatenated with the stride-16 feature (C/2 channels) -> 7x7 conv
  + BN + ReLU to one map per keypoint -> flatten -> ScaleNorm + linear to hidden/2
  (``final_layer2``, ``mlp2``);
* both halves concatenated into hidden=256-wide keypoint tokens -> the RTMCC gated
  attention block (s=128, expansion 2, SiLU) -> ``cls_x`` / ``cls_y`` linear layers
  without bias (input width/height x split ratio bins).

Modules are run in mmpose's order (the ONNX weights are matched in execution order). As
in :mod:`.rtmcc_head`, the token part after the convolutions always runs in float32.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import ConvAct
from .rtmcc_head import RTMCCBlock, ScaleNorm, _no_autocast


class ConvReLU(ConvAct):
    """mmcv ConvModule with BN (folded) and ReLU: RTMW's head convolutions."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__(cin, cout, kernel, act=False)
        self.act = nn.ReLU()


class RTMWHead(nn.Module):
    PIXEL_SHUFFLE = 2

    def __init__(self, in_channels: int, num_keypoints: int, input_hw: tuple[int, int],
                 split_ratio: float = 2.0, hidden: int = 256, s: int = 128, expansion: int = 2,
                 final_kernel: int = 7):
        super().__init__()
        h, w = input_hw
        tokens = (h // 32) * (w // 32)
        ps = self.PIXEL_SHUFFLE
        self.final_layer = ConvReLU(in_channels, num_keypoints, final_kernel)
        self.mlp = nn.Sequential(ScaleNorm(tokens), nn.Linear(tokens, hidden // 2, bias=False))
        self.ps = nn.PixelShuffle(ps)
        self.conv_dec = ConvReLU(in_channels // ps ** 2, in_channels // 4, final_kernel)
        self.final_layer2 = ConvReLU(in_channels // ps + in_channels // 4, num_keypoints, final_kernel)
        self.mlp2 = nn.Sequential(ScaleNorm(tokens * ps ** 2), nn.Linear(tokens * ps ** 2, hidden // 2, bias=False))
        self.gau = RTMCCBlock(hidden, expansion_factor=expansion, s=s)
        self.cls_x = nn.Linear(hidden, int(w * split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden, int(h * split_ratio), bias=False)

    def forward(self, feats: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        enc_b, enc_t = feats  # stride 16 (C/2 channels), stride 32 (C channels)
        top = self.final_layer(enc_t).flatten(2).float()
        with _no_autocast(top):
            top = self.mlp(top)
        dec = self.conv_dec(self.ps(enc_t))
        bottom = self.final_layer2(torch.cat([dec, enc_b], 1)).flatten(2).float()
        with _no_autocast(bottom):
            tokens = torch.cat([top, self.mlp2(bottom)], 2)
            tokens = self.gau(tokens)
            return self.cls_x(tokens), self.cls_y(tokens)

    def float_part(self) -> tuple[nn.Module, ...]:
        """The modules that stay float32 whatever the compute dtype."""
        return self.mlp, self.mlp2, self.gau, self.cls_x, self.cls_y
