"""Torch-native DWPose models: RTMPose (CSPNeXt + RTMCC head), RTMW (+ CSPNeXtPAFPN neck, RTMW head)
and YOLOX, in fused-BatchNorm form.

``load_network(path)`` builds the right module for a published ONNX file, an
mmpose/DWPose ``.pth`` checkpoint (read without executing pickles) or a cached
``.safetensors`` copy, and loads its weights. torch is imported by this package;
import it lazily from code that runs at ComfyUI start-up.
"""
from __future__ import annotations

from .loading import ArchitectureMismatch, WeightsFormatError, load_network, load_weights
from .rtmpose import RTMPose, RTMPoseSpec
from .rtmw import RTMW
from .yolox import YOLOX, YOLOXSpec

__all__ = [
    "ArchitectureMismatch", "WeightsFormatError", "load_network", "load_weights",
    "RTMPose", "RTMPoseSpec", "RTMW", "YOLOX", "YOLOXSpec",
]
