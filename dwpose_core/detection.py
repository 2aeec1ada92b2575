"""Person detection with YOLOX (the official Megvii export shipped with DWPose).

Contract of the model: input ``images`` [N,3,640,640] float32, raw 0-255,
BGR by default (channel order is a registry fact), letterboxed to the top-left
corner over a fill of 114; output ``output`` [N,8400,85] of raw predictions on
stride 8/16/32 grids (objectness and class scores already sigmoid).
Post-processing: grid decode, person candidates with score > 0.1, greedy NMS
at IoU 0.45 (YOLOX's legacy "+1" pixel areas), then keep score > 0.3.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

from .backends.base import InferenceModel

STRIDES = (8, 16, 32)
PAD_VALUE = 114
PERSON_CLASS = 0


@dataclass(frozen=True)
class DetectionThresholds:
    candidate: float = 0.1  # person score a box needs to enter NMS
    nms_iou: float = 0.45
    keep: float = 0.3  # person score a box needs after NMS


def letterbox(image: np.ndarray, size: tuple[int, int] = (640, 640)) -> tuple[np.ndarray, float]:
    """Resize keeping aspect ratio into the top-left of a ``size`` (h, w) canvas filled with 114.

    Returns the HxWxC uint8 canvas and the scale ratio r (model px = image px * r).
    """
    import cv2

    h, w = image.shape[:2]
    r = min(size[0] / h, size[1] / w)
    new_w, new_h = max(1, int(w * r)), max(1, int(h * r))
    canvas = np.full((size[0], size[1], image.shape[2]), PAD_VALUE, dtype=np.uint8)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas[:new_h, :new_w] = resized
    return canvas, r


@lru_cache(maxsize=8)
def make_grids(input_hw: tuple[int, int] = (640, 640), strides=STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell offsets (x, y) and the stride of every prediction row, in YOLOX's order (cached: read-only)."""
    grids, expanded = [], []
    for stride in strides:
        gh, gw = input_hw[0] // stride, input_hw[1] // stride
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
        expanded.append(np.full((gh * gw, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(expanded).astype(np.float32)


def decode_yolox(raw: np.ndarray, input_hw: tuple[int, int] = (640, 640)) -> tuple[np.ndarray, np.ndarray]:
    """Raw [R,85] predictions -> person boxes xyxy [R,4] in model pixels and person scores [R]."""
    grids, strides = make_grids(tuple(input_hw))
    if raw.shape[0] != grids.shape[0]:
        raise ValueError(
            f"Detector output has {raw.shape[0]} rows; a {input_hw[1]}x{input_hw[0]} YOLOX gives {grids.shape[0]}."
        )
    centre = (raw[:, :2] + grids) * strides
    size = np.exp(np.minimum(raw[:, 2:4], 30.0)) * strides  # clamp: avoid overflow on garbage outputs
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    scores = raw[:, 4] * raw[:, 5 + PERSON_CLASS]
    return boxes, scores


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS; returns kept indices by descending score. Areas use YOLOX's +1 pixel convention."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def postprocess(raw: np.ndarray, ratio: float, thresholds: DetectionThresholds,
                input_hw: tuple[int, int] = (640, 640)) -> tuple[np.ndarray, np.ndarray]:
    """One image's raw output -> person boxes [K,4] in image pixels and scores [K], best first."""
    boxes, scores = decode_yolox(raw, input_hw)
    candidates = scores > thresholds.candidate
    boxes, scores = boxes[candidates], scores[candidates]
    keep = nms(boxes, scores, thresholds.nms_iou)
    boxes, scores = boxes[keep], scores[keep]
    final = scores > thresholds.keep
    return (boxes[final] / ratio).astype(np.float32), scores[final].astype(np.float32)


class PersonDetector:
    """YOLOX person detector over any backend model."""

    def __init__(self, model: InferenceModel, channel_order: str = "bgr"):
        if channel_order not in ("bgr", "rgb"):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', not {channel_order!r}")
        self.model = model
        self.channel_order = channel_order

    def preprocess(self, frame_rgb: np.ndarray) -> tuple[np.ndarray, float]:
        canvas, ratio = letterbox(frame_rgb, self.model.input_hw)
        if self.channel_order == "bgr":
            canvas = canvas[:, :, ::-1]
        return canvas.transpose(2, 0, 1).astype(np.float32), ratio

    def __call__(self, frames: list[np.ndarray], thresholds: Optional[DetectionThresholds] = None
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Detect people in uint8 RGB frames; per frame (boxes [K,4], scores [K])."""
        thresholds = thresholds or DetectionThresholds()
        results = []
        step = self.model.max_batch or len(frames) or 1
        # A backend on an accelerator letterboxes on its device (frames go up once, as uint8).
        on_device = getattr(self.model, "letterbox_and_run", None)
        if on_device is not None and self.model.info.device == "cpu":
            on_device = None
        for start in range(0, len(frames), step):
            chunk = frames[start:start + step]
            if on_device is not None:
                outputs, ratios = on_device(chunk, pad_value=PAD_VALUE, bgr=self.channel_order == "bgr")
                raw = outputs[self.model.output_names[0]]
            else:
                prepared = [self.preprocess(f) for f in chunk]
                raw = self.model.run(np.stack([p[0] for p in prepared]))[self.model.output_names[0]]
                ratios = [p[1] for p in prepared]
            for out, ratio in zip(raw, ratios):
                results.append(postprocess(out, float(ratio), thresholds, self.model.input_hw))
        return results
