"""Person detection with YOLOX (the official Megvii export shipped with DWPose).

Contract of the model: input ``images`` [N,3,S,S] float32 (S = 640 in the
published file; ``det_size`` runs other multiples of 32 where the backend can),
raw 0-255, BGR by default (channel order is a registry fact), letterboxed to the
top-left corner over a fill of 114; output ``output`` [N,A,85] of raw predictions
on stride 8/16/32 grids (objectness and class scores already sigmoid).

Post-processing, per frame: grid decode (float64); rows that are not finite are
dropped; candidates need a person score above both thresholds (``candidate``
and ``keep``: greedy NMS only lets a box suppress lower-scored ones, so this is
the same result as thresholding after NMS); greedy NMS at IoU 0.45 (YOLOX's
legacy "+1" pixel areas) stops once ``max_detections`` boxes are kept; boxes are
mapped back to frame pixels, clipped to the frame, and empty ones are dropped.
The work per frame is therefore bounded whatever the model outputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

from ..backends.base import InferenceModel, device_path

STRIDES = (8, 16, 32)
PAD_VALUE = 114
PERSON_CLASS = 0
DEFAULT_MAX_DETECTIONS = 100
DET_SIZE_RANGE = (320, 1280)  # inclusive; multiples of 32 (the largest stride)


@dataclass(frozen=True)
class DetectionThresholds:
    candidate: float = 0.1  # person score a box needs to enter NMS
    nms_iou: float = 0.45
    keep: float = 0.3  # person score a box needs after NMS
    max_detections: int = DEFAULT_MAX_DETECTIONS  # people per frame handed to the pose stage, best first

    def __post_init__(self) -> None:
        if isinstance(self.max_detections, bool) or not isinstance(self.max_detections, (int, np.integer)) \
                or self.max_detections < 0:
            raise ValueError(f"max_detections must be an integer >= 0, got {self.max_detections!r}.")
        for name in ("candidate", "nms_iou", "keep"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} threshold must be a finite number, got {getattr(self, name)!r}.")


def check_det_size(det_size) -> int:
    """Validate a detector input size: an integer multiple of 32 from 320 to 1280."""
    lo, hi = DET_SIZE_RANGE
    if isinstance(det_size, bool) or not isinstance(det_size, (int, np.integer)) or not lo <= det_size <= hi \
            or det_size % 32:
        raise ValueError(f"det_size must be a multiple of 32 from {lo} to {hi} (640 = the published model), "
                         f"got {det_size!r}.")
    return int(det_size)


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
    grid, stride = np.concatenate(grids).astype(np.float64), np.concatenate(expanded).astype(np.float64)
    grid.setflags(write=False)
    stride.setflags(write=False)
    return grid, stride


def decode_yolox(raw: np.ndarray, input_hw: tuple[int, int] = (640, 640)) -> tuple[np.ndarray, np.ndarray]:
    """Raw [R,85] predictions -> person boxes xyxy [R,4] (float64, model pixels) and person scores [R]."""
    grids, strides = make_grids(tuple(input_hw))
    if raw.shape[0] != grids.shape[0]:
        raise ValueError(
            f"Detector output has {raw.shape[0]} rows; a {input_hw[1]}x{input_hw[0]} YOLOX gives {grids.shape[0]}."
        )
    raw = np.asarray(raw, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        centre = (raw[:, :2] + grids) * strides
        size = np.exp(np.minimum(raw[:, 2:4], 30.0)) * strides  # clamp: avoid overflow on garbage outputs
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        scores = raw[:, 4] * raw[:, 5 + PERSON_CLASS]
    return boxes, scores


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: Optional[int] = None) -> np.ndarray:
    """Greedy NMS; kept indices by descending score, at most ``max_keep``. Areas use YOLOX's +1 convention."""
    boxes = np.asarray(boxes, dtype=np.float64)
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep: list[int] = []
    limit = len(order) if max_keep is None else max_keep
    while order.size and len(keep) < limit:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        with np.errstate(invalid="ignore"):
            iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[~(iou > iou_threshold)]
    return np.asarray(keep, dtype=np.int64)


def sanitize_boxes(boxes: np.ndarray, scores: np.ndarray, frame_hw: tuple[int, int],
                   max_detections: Optional[int] = DEFAULT_MAX_DETECTIONS) -> tuple[np.ndarray, np.ndarray]:
    """Boxes fit for the pose stage: finite, clipped to the frame, non-empty, at most ``max_detections``
    of them, best score first. Usable on boxes from anywhere (detector, tracker, caller)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores")
    finite = np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
    boxes, scores = boxes[finite], scores[finite]
    h, w = frame_hw
    boxes = np.stack([boxes[:, 0].clip(0, w), boxes[:, 1].clip(0, h),
                      boxes[:, 2].clip(0, w), boxes[:, 3].clip(0, h)], axis=1).reshape(-1, 4)
    solid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores = boxes[solid], scores[solid]
    order = np.argsort(-scores, kind="stable")[:max_detections]
    return boxes[order].astype(np.float32), scores[order].astype(np.float32)


def postprocess(raw: np.ndarray, ratio: float, thresholds: DetectionThresholds,
                input_hw: tuple[int, int] = (640, 640),
                frame_hw: Optional[tuple[int, int]] = None) -> tuple[np.ndarray, np.ndarray]:
    """One image's raw output -> person boxes [K,4] in image pixels and scores [K], best first.

    ``frame_hw`` (the image's height, width) clips the boxes to the image; without it they are
    clipped to the letterboxed area (input size / ratio), which contains the image.
    """
    boxes, scores = decode_yolox(raw, input_hw)
    finite = np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
    candidates = finite & (scores > thresholds.candidate) & (scores > thresholds.keep)
    boxes, scores = boxes[candidates], scores[candidates]
    keep = nms(boxes, scores, thresholds.nms_iou, max_keep=thresholds.max_detections)
    boxes, scores = boxes[keep] / ratio, scores[keep]
    if frame_hw is None:
        frame_hw = (input_hw[0] / ratio, input_hw[1] / ratio)
    return sanitize_boxes(boxes, scores, frame_hw, thresholds.max_detections)


class PersonDetector:
    """YOLOX person detector over any backend model.

    ``det_size`` (a multiple of 32 from 320 to 1280) letterboxes frames to that square instead of the
    model file's own input size; the model must accept it (``model.supports_input_hw``; the torch
    backend runs YOLOX at any such size, ``backends.load_detector`` picks a model that can).
    """

    def __init__(self, model: InferenceModel, channel_order: str = "bgr", det_size: Optional[int] = None):
        if channel_order not in ("bgr", "rgb"):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', not {channel_order!r}")
        self.model = model
        self.channel_order = channel_order
        self.input_hw = tuple(model.input_hw)
        if det_size is not None:
            hw = (check_det_size(det_size),) * 2
            supports = getattr(model, "supports_input_hw", None)
            if hw != self.input_hw and not (supports is not None and supports(hw)):
                raise ValueError(f"{model.path.name} runs at {self.input_hw[1]}x{self.input_hw[0]} only on "
                                 f"{model.info}; det_size {det_size} needs a model built for that size "
                                 "(load it with backends.load_detector(..., det_size=...)).")
            self.input_hw = hw

    def preprocess(self, frame_rgb: np.ndarray) -> tuple[np.ndarray, float]:
        canvas, ratio = letterbox(frame_rgb, self.input_hw)
        if self.channel_order == "bgr":
            canvas = canvas[:, :, ::-1]
        return canvas.transpose(2, 0, 1), ratio

    def __call__(self, frames: list[np.ndarray], thresholds: Optional[DetectionThresholds] = None
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Detect people in uint8 RGB frames; per frame (boxes [K,4], scores [K]), K <= max_detections."""
        thresholds = thresholds or DetectionThresholds()
        results = []
        step = self.model.max_batch or len(frames) or 1
        # A backend on an accelerator letterboxes on its device (frames go up once, as uint8).
        on_device = device_path(self.model, "letterbox_and_run")
        sized = {} if self.input_hw == tuple(self.model.input_hw) else {"input_hw": self.input_hw}
        for start in range(0, len(frames), step):
            chunk = frames[start:start + step]
            if on_device is not None:
                outputs, ratios = on_device(chunk, pad_value=PAD_VALUE, bgr=self.channel_order == "bgr", **sized)
                raw = outputs[self.model.output_names[0]]
            else:
                batch = np.empty((len(chunk), 3) + self.input_hw, dtype=np.float32)
                ratios = []
                for k, frame in enumerate(chunk):
                    canvas, ratio = self.preprocess(frame)
                    batch[k] = canvas  # uint8 -> float32 in place, no temporary copy
                    ratios.append(ratio)
                raw = self.model.run(batch)[self.model.output_names[0]]
            for out, ratio, frame in zip(raw, ratios, chunk):
                results.append(postprocess(out, float(ratio), thresholds, self.input_hw, frame.shape[:2]))
        return results
