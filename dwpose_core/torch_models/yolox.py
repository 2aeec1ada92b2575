"""YOLOX (Megvii): CSPDarknet backbone with Focus stem, PAFPN neck, decoupled head; fused BatchNorm.

Every published size: Nano (depthwise-separable 3x3 convs, 416), Tiny (416), S, M, L (DWPose's), X (640).

The output contract is the one of the official ``yolox_l.onnx`` export
(``decode_in_inference=False``): ``output`` (N, A, 5 + classes) over the
stride 8/16/32 grids flattened row by row, channels = raw x, y, w, h offsets,
sigmoid(objectness), sigmoid(class scores). Decoding is the detector stage's job.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import ConvAct, SPPBottleneck

# name -> (depth, width), from the YOLOX experiment descriptions (exps/default/*.py).
VARIANTS = {"nano": (0.33, 0.25), "tiny": (0.33, 0.375), "s": (0.33, 0.5), "m": (0.67, 0.75), "l": (1.0, 1.0),
            "x": (1.33, 1.25)}
DEPTHWISE = frozenset({"nano"})  # YOLOX-Nano replaces every 3x3 conv outside the stem by depthwise + pointwise
# The input size each variant was trained and published at.
NATIVE_SIZE = {"nano": 416, "tiny": 416, "s": 640, "m": 640, "l": 640, "x": 640}
STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class YOLOXSpec:
    variant: str = "l"
    input_hw: tuple[int, int] = (640, 640)
    num_classes: int = 80

    kind = "yolox"
    input_name = "images"
    output_names = ("output",)

    @property
    def title(self) -> str:
        return f"YOLOX-{self.variant} {self.input_hw[0]}x{self.input_hw[1]} ({self.num_classes} classes)"

    @property
    def depthwise(self) -> bool:
        return self.variant in DEPTHWISE

    def build(self) -> "YOLOX":
        return YOLOX(self)


class DWConv(nn.Module):
    """YOLOX's depthwise-separable conv (Nano): a depthwise k x k conv, then a 1x1 conv, each with SiLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__()
        self.dconv = ConvAct(cin, cin, kernel, stride, groups=cin)
        self.pconv = ConvAct(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pconv(self.dconv(x))


def conv(cin: int, cout: int, kernel: int, stride: int = 1, depthwise: bool = False) -> nn.Module:
    """YOLOX's ``Conv``: DWConv in the depthwise variants, a plain conv otherwise."""
    return DWConv(cin, cout, kernel, stride) if depthwise else ConvAct(cin, cout, kernel, stride)


class Bottleneck(nn.Module):
    def __init__(self, channels: int, shortcut: bool, depthwise: bool = False):
        super().__init__()
        self.conv1 = ConvAct(channels, channels, 1)
        self.conv2 = conv(channels, channels, 3, depthwise=depthwise)
        self.use_add = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class CSPLayer(nn.Module):
    """YOLOX's CSP layer: conv1 -> bottlenecks (main), conv2 (short), concat, conv3."""

    def __init__(self, cin: int, cout: int, n: int, shortcut: bool = True, depthwise: bool = False):
        super().__init__()
        hidden = int(cout * 0.5)
        self.conv1 = ConvAct(cin, hidden, 1)
        self.conv2 = ConvAct(cin, hidden, 1)
        self.m = nn.Sequential(*[Bottleneck(hidden, shortcut, depthwise) for _ in range(n)])
        self.conv3 = ConvAct(2 * hidden, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # conv1 and conv2 run before the bottlenecks, as in the original (ONNX order).
        x1 = self.conv1(x)
        x2 = self.conv2(x)
        return self.conv3(torch.cat((self.m(x1), x2), dim=1))


class Focus(nn.Module):
    """Space-to-depth (2x2 pixel blocks -> channels) then a conv."""

    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__()
        self.conv = ConvAct(cin * 4, cout, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tl, tr = x[..., ::2, ::2], x[..., ::2, 1::2]
        bl, br = x[..., 1::2, ::2], x[..., 1::2, 1::2]
        return self.conv(torch.cat((tl, bl, tr, br), dim=1))


class CSPDarknet(nn.Module):
    def __init__(self, depth: float, width: float, depthwise: bool = False):
        super().__init__()
        c = int(width * 64)
        d = max(round(depth * 3), 1)
        dw = depthwise
        self.stem = Focus(3, c)
        self.dark2 = nn.Sequential(conv(c, c * 2, 3, 2, dw), CSPLayer(c * 2, c * 2, d, depthwise=dw))
        self.dark3 = nn.Sequential(conv(c * 2, c * 4, 3, 2, dw), CSPLayer(c * 4, c * 4, d * 3, depthwise=dw))
        self.dark4 = nn.Sequential(conv(c * 4, c * 8, 3, 2, dw), CSPLayer(c * 8, c * 8, d * 3, depthwise=dw))
        self.dark5 = nn.Sequential(conv(c * 8, c * 16, 3, 2, dw), SPPBottleneck(c * 16, c * 16),
                                   CSPLayer(c * 16, c * 16, d, shortcut=False, depthwise=dw))

    def forward(self, x: torch.Tensor):
        x = self.dark2(self.stem(x))
        c3 = self.dark3(x)
        c4 = self.dark4(c3)
        c5 = self.dark5(c4)
        return c3, c4, c5


class YOLOPAFPN(nn.Module):
    def __init__(self, depth: float, width: float, depthwise: bool = False):
        super().__init__()
        c3, c4, c5 = (int(ch * width) for ch in (256, 512, 1024))
        n = round(3 * depth)
        dw = depthwise
        self.backbone = CSPDarknet(depth, width, dw)
        self.lateral_conv0 = ConvAct(c5, c4, 1)
        self.C3_p4 = CSPLayer(2 * c4, c4, n, False, dw)
        self.reduce_conv1 = ConvAct(c4, c3, 1)
        self.C3_p3 = CSPLayer(2 * c3, c3, n, False, dw)
        self.bu_conv2 = conv(c3, c3, 3, 2, dw)
        self.C3_n3 = CSPLayer(2 * c3, c4, n, False, dw)
        self.bu_conv1 = conv(c4, c4, 3, 2, dw)
        self.C3_n4 = CSPLayer(2 * c4, c5, n, False, dw)

    def forward(self, x: torch.Tensor):
        x2, x1, x0 = self.backbone(x)
        up = lambda t: nn.functional.interpolate(t, scale_factor=2.0, mode="nearest")  # noqa: E731
        fpn_out0 = self.lateral_conv0(x0)
        f_out0 = self.C3_p4(torch.cat([up(fpn_out0), x1], 1))
        fpn_out1 = self.reduce_conv1(f_out0)
        pan_out2 = self.C3_p3(torch.cat([up(fpn_out1), x2], 1))
        pan_out1 = self.C3_n3(torch.cat([self.bu_conv2(pan_out2), fpn_out1], 1))
        pan_out0 = self.C3_n4(torch.cat([self.bu_conv1(pan_out1), fpn_out0], 1))
        return pan_out2, pan_out1, pan_out0


class YOLOXHead(nn.Module):
    def __init__(self, num_classes: int, width: float, depthwise: bool = False):
        super().__init__()
        hidden = int(256 * width)
        self.stems, self.cls_convs, self.reg_convs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        self.cls_preds, self.reg_preds, self.obj_preds = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for cin in (256, 512, 1024):
            self.stems.append(ConvAct(int(cin * width), hidden, 1))
            self.cls_convs.append(nn.Sequential(*(conv(hidden, hidden, 3, 1, depthwise) for _ in range(2))))
            self.reg_convs.append(nn.Sequential(*(conv(hidden, hidden, 3, 1, depthwise) for _ in range(2))))
            self.cls_preds.append(nn.Conv2d(hidden, num_classes, 1))
            self.reg_preds.append(nn.Conv2d(hidden, 4, 1))
            self.obj_preds.append(nn.Conv2d(hidden, 1, 1))

    def forward(self, feats) -> torch.Tensor:
        outs = []
        for k, x in enumerate(feats):
            x = self.stems[k](x)
            cls = self.cls_preds[k](self.cls_convs[k](x))
            reg_feat = self.reg_convs[k](x)
            reg, obj = self.reg_preds[k](reg_feat), self.obj_preds[k](reg_feat)
            outs.append(torch.cat([reg, obj.sigmoid(), cls.sigmoid()], 1).flatten(2))
        return torch.cat(outs, dim=2).permute(0, 2, 1)


class YOLOX(nn.Module):
    def __init__(self, spec: YOLOXSpec):
        super().__init__()
        if spec.variant not in VARIANTS:
            raise ValueError(f"Unknown YOLOX variant {spec.variant!r}; known: {', '.join(VARIANTS)}")
        depth, width = VARIANTS[spec.variant]
        self.spec = spec
        self.backbone = YOLOPAFPN(depth, width, spec.depthwise)
        self.head = YOLOXHead(spec.num_classes, width, spec.depthwise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def set_compute_dtype(self, dtype: torch.dtype) -> "YOLOX":
        return self.to(dtype)
