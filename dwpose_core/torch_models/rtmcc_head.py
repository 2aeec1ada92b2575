"""RTMCC head: 7x7 conv to one map per keypoint, flatten, MLP, gated attention unit, SimCC classifiers.

From the RTMPose paper/config: each keypoint's stride-32 map is flattened into a
token; a ScaleNorm + linear layer embeds it (hidden 256); one GAU block (self-
attention among the keypoint tokens, s=128, expansion 2, SiLU, no relative bias)
mixes them; two linear layers give the 1-D x and y classification vectors
(input width/height x split ratio bins).

The head after the first conv always runs in float32: it is a few MFLOPs, and
the squared-ReLU attention kernel can overflow half precision.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class ScaleNorm(nn.Module):
    """x / (||x|| * dim^-0.5) * g, with a scalar learnable g."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.scale = dim ** -0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    """Per-channel learnable scale (the GAU's residual branch)."""

    def __init__(self, dim: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class RTMCCBlock(nn.Module):
    """Gated attention unit over the keypoint tokens (self-attention form used by RTMPose)."""

    def __init__(self, dims: int, expansion_factor: int = 2, s: int = 128, eps: float = 1e-5):
        super().__init__()
        self.s = s
        self.e = int(dims * expansion_factor)
        self.o = nn.Linear(self.e, dims, bias=False)
        self.uv = nn.Linear(dims, 2 * self.e + s, bias=False)
        self.gamma = nn.Parameter(torch.ones(2, s))
        self.beta = nn.Parameter(torch.zeros(2, s))
        self.ln = ScaleNorm(dims, eps=eps)
        self.res_scale = Scale(dims)
        self.sqrt_s = math.sqrt(s)

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        uv = nn.functional.silu(self.uv(self.ln(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=2)
        base = base.unsqueeze(2) * self.gamma[None, None, :] + self.beta  # (B, K, 2, s)
        q, k = torch.unbind(base, dim=2)
        kernel = torch.square(torch.relu(torch.bmm(q, k.transpose(1, 2)) / self.sqrt_s))
        return self.o(u * torch.bmm(kernel, v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Main branch first, then the scaled shortcut: mmpose's execution order.
        main = self._attend(x)
        return self.res_scale(x) + main


class RTMCCHead(nn.Module):
    def __init__(self, in_channels: int, num_keypoints: int, input_hw: tuple[int, int],
                 split_ratio: float = 2.0, hidden: int = 256, s: int = 128, expansion: int = 2,
                 final_kernel: int = 7):
        super().__init__()
        h, w = input_hw
        tokens = (h // 32) * (w // 32)
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, final_kernel, padding=final_kernel // 2)
        self.mlp = nn.Sequential(ScaleNorm(tokens), nn.Linear(tokens, hidden, bias=False))
        self.gau = RTMCCBlock(hidden, expansion_factor=expansion, s=s)
        self.cls_x = nn.Linear(hidden, int(w * split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden, int(h * split_ratio), bias=False)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.final_layer(feats).flatten(2).float()
        with _no_autocast(x):
            x = self.gau(self.mlp(x))
            return self.cls_x(x), self.cls_y(x)


def _no_autocast(x: torch.Tensor):
    """Disable autocast for the float32 head on x's device type (a no-op context otherwise)."""
    kind = x.device.type
    if kind in ("cuda", "cpu", "xpu", "mps") and hasattr(torch, "autocast"):
        try:
            return torch.autocast(device_type=kind, enabled=False)
        except RuntimeError:
            pass
    import contextlib
    return contextlib.nullcontext()
