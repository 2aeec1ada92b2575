"""Person detection: YOLOX (the official Megvii export shipped with DWPose, and every other size),
OpenMMLab's end-to-end detectors and YOLO-NAS files users already have.

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

Three output contracts, told apart by the graph's outputs (:func:`detector_contract`):

* ``yolox`` - one output [N, A, 5 + classes], raw, at any input size S (A = (S/8)^2 + (S/16)^2 +
  (S/32)^2: 8400 at 640, 3549 at 416 for Nano/Tiny): decoded here as above.
* ``end2end`` - OpenMMLab's mmdeploy graphs (HumanArt YOLOX, RTMDet): decode and NMS inside, outputs
  ``dets`` [N, K, 5] (x1, y1, x2, y2, score in input pixels) and ``labels`` [N, K]. Preprocessing is read
  from the ``pipeline.json`` next to the model (``<stem>.pipeline.json`` as the hub extracts it, else
  ``pipeline.json``; :func:`read_pipeline`): input size, pad value, normalisation and channel order; an
  unknown transform is refused in one line. Without one, rtmlib's facts for the HumanArt YOLOX files apply
  (letterbox top-left over 114, BGR, raw 0-255). Kept: label 0 (person), score > ``keep``; the graph's own
  NMS stands.
* ``yolo_nas`` - super-gradients exports with NMS inside, as comfyui_controlnet_aux runs them
  (``dwpose/dw_onnx/cv_ox_yolo_nas.py``): uint8 [1,3,640,640] letterboxed top-left over 114, outputs
  (num_predictions [N,1], boxes [N,K,4] xyxy, scores [N,K], classes [N,K]); kept: the first
  num_predictions rows, class 0, score > ``keep``. The weights' licence is non-commercial (Deci).

A detector whose outputs fit none of them is refused with one line naming the outputs expected.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..backends.base import InferenceModel, device_path
from ..errors import DWPoseError

log = logging.getLogger("dwpose")

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


def letterbox(image: np.ndarray, size: tuple[int, int] = (640, 640), pad_value: int = PAD_VALUE
              ) -> tuple[np.ndarray, float]:
    """Resize keeping aspect ratio into the top-left of a ``size`` (h, w) canvas filled with ``pad_value``.

    Returns the HxWxC uint8 canvas and the scale ratio r (model px = image px * r).
    """
    import cv2

    h, w = image.shape[:2]
    r = min(size[0] / h, size[1] / w)
    new_w, new_h = max(1, int(w * r)), max(1, int(h * r))
    canvas = np.full((size[0], size[1], image.shape[2]), pad_value, dtype=np.uint8)
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
        raise DetectorContractError(
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


# ---------------------------------------------------------------- output contracts

YOLOX, END2END, YOLO_NAS = "yolox", "end2end", "yolo_nas"
CONTRACTS = (YOLOX, END2END, YOLO_NAS)
EXPECTED_OUTPUTS = ("one raw YOLOX output [N, anchors, 5 + classes]; or dets [N, K, 5] + labels [N, K] "
                    "(end-to-end, NMS inside); or num_predictions, boxes, scores, classes (YOLO-NAS)")


class DetectorContractError(DWPoseError, ValueError):
    """A detector graph (or its pipeline.json) fits none of the contracts this stage reads."""


def detector_contract(output_names: Sequence[str], name: str = "the detector") -> str:
    """Which contract a detector's outputs follow (by name, else by count); DetectorContractError if none."""
    names = list(output_names)
    if {"dets", "labels"} <= set(names):
        return END2END
    if len(names) == 1:
        return YOLOX
    if len(names) == 2:
        return END2END  # mmdeploy graphs renamed: dets, labels in that order (checked at the first run)
    if len(names) == 4:
        return YOLO_NAS
    raise DetectorContractError(f"{name} has outputs {', '.join(names) or 'none'}; a person detector needs "
                                f"{EXPECTED_OUTPUTS}.")


def _contract_mismatch(name: str, contract: str, outputs: dict) -> DetectorContractError:
    shapes = ", ".join(f"{k} {list(np.shape(v))}" for k, v in outputs.items())
    return DetectorContractError(f"{name}'s outputs ({shapes}) do not fit the {contract} contract; a person "
                                 f"detector needs {EXPECTED_OUTPUTS}.")


@dataclass(frozen=True)
class Preprocess:
    """How a detector wants its input: letterboxed to ``input_hw`` over ``pad_value``, in ``channel_order``,
    then (x - mean) / std when given, as float32 or uint8."""

    input_hw: tuple[int, int]
    channel_order: str = "bgr"
    pad_value: int = PAD_VALUE
    mean: Optional[tuple[float, float, float]] = None
    std: Optional[tuple[float, float, float]] = None
    dtype: str = "float32"


# mmdeploy SDK transforms: the ones that change pixels are read; the bookkeeping ones are accepted as is.
_BOOKKEEPING = {"LoadImageFromFile", "ImageToTensor", "Collect", "DefaultFormatBundle", "PackDetInputs",
                "PackInputs", "ToTensor"}


def _triple(value, what: str, where: str) -> tuple[float, float, float]:
    if isinstance(value, (int, float)):
        return (float(value),) * 3
    if isinstance(value, (list, tuple)) and len(value) in (1, 3) and all(isinstance(v, (int, float)) for v in value):
        return tuple(float(v) for v in (value * 3 if len(value) == 1 else value))
    raise DetectorContractError(f"{where}: {what} {value!r} is not 1 or 3 numbers.")


def _size(value, where: str) -> tuple[int, int]:
    """mmdeploy sizes are [width, height] (or one number); (h, w)."""
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
        return (int(value[1]), int(value[0]))
    raise DetectorContractError(f"{where}: size {value!r} is not [width, height].")


def read_pipeline(path: Path) -> Preprocess:
    """The detector preprocessing an mmdeploy ``pipeline.json`` describes. Known transforms: Resize
    (keep_ratio), Pad (to a size, any pad value), Normalize (mean, std, to_rgb) and bookkeeping ones;
    anything else is refused in one line (DetectorContractError) rather than run wrongly."""
    path = Path(path)
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tasks = data["pipeline"]["tasks"]
        transforms = next(t for t in tasks if t.get("module") == "Transform")["transforms"]
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
        raise DetectorContractError(f"{where} is not an mmdeploy pipeline description "
                                    f"({type(exc).__name__}: {exc}); delete it to use the default preprocessing.") \
            from None
    size = None
    pad = PAD_VALUE
    mean = std = None
    order = "bgr"  # mmdeploy's SDK reads images with OpenCV
    for t in transforms:
        kind = t.get("type") if isinstance(t, dict) else None
        if kind in _BOOKKEEPING:
            continue
        if kind == "Resize":
            if not t.get("keep_ratio", False):
                raise DetectorContractError(f"{where}: Resize without keep_ratio is not supported (only "
                                            "letterboxing is).")
            size = _size(t.get("size", t.get("scale")), where)
        elif kind == "Pad":
            if "size" in t:
                padded = _size(t["size"], where)
                if size is not None and padded != size:
                    raise DetectorContractError(f"{where}: Pad to {padded} differs from Resize to {size}.")
                size = padded
            elif "size_divisor" in t and size is None:
                raise DetectorContractError(f"{where}: Pad by size_divisor needs a Resize size.")
            value = t.get("pad_val", PAD_VALUE)
            value = value.get("img", PAD_VALUE) if isinstance(value, dict) else value
            values = _triple(value, "pad_val", where)
            if len(set(values)) != 1 or not 0 <= values[0] <= 255:
                raise DetectorContractError(f"{where}: per-channel pad values {values} are not supported.")
            pad = int(values[0])
        elif kind == "Normalize":
            mean = _triple(t.get("mean"), "mean", where)
            std = _triple(t.get("std"), "std", where)
            if any(v == 0 for v in std):
                raise DetectorContractError(f"{where}: Normalize std {std} contains 0.")
            order = "rgb" if t.get("to_rgb", False) else "bgr"
        else:
            raise DetectorContractError(f"{where}: unknown transform {kind!r}; this detector cannot be fed "
                                        "correctly (known: Resize, Pad, Normalize).")
    if size is None:
        raise DetectorContractError(f"{where}: no Resize/Pad size: the detector's input size is unknown.")
    return Preprocess(size, order, pad, mean, std)


def pipeline_path(model_path: Path) -> Optional[Path]:
    """The pipeline.json that belongs to ``model_path``: ``<stem>.pipeline.json``, else ``pipeline.json``."""
    model_path = Path(model_path)
    for candidate in (model_path.with_name(model_path.stem + ".pipeline.json"),
                      model_path.with_name("pipeline.json")):
        if candidate.is_file():
            return candidate
    return None


# rtmlib's facts for the HumanArt YOLOX end-to-end files, used when no pipeline.json is found.
END2END_FALLBACK = Preprocess((640, 640))


def _e2e_results(outputs: dict, names: list, b: int, thresholds: DetectionThresholds, name: str):
    dets = np.asarray(outputs[names[0]])
    labels = np.asarray(outputs[names[1]]) if len(names) > 1 else None
    if dets.ndim != 3 or dets.shape[-1] != 5 or (labels is not None and labels.shape[:2] != dets.shape[:2]):
        raise _contract_mismatch(name, END2END, outputs)
    rows = dets[b].astype(np.float64)
    keep = rows[:, 4] > thresholds.keep
    if labels is not None:
        keep &= np.asarray(labels[b]).astype(np.int64) == PERSON_CLASS
    return rows[keep, :4], rows[keep, 4]


def _nas_results(outputs: dict, names: list, b: int, thresholds: DetectionThresholds, name: str):
    num, boxes, scores, classes = (np.asarray(outputs[n]) for n in names)
    if boxes.ndim != 3 or boxes.shape[-1] != 4 or scores.shape[:2] != boxes.shape[:2] \
            or classes.shape[:2] != boxes.shape[:2]:
        raise _contract_mismatch(name, YOLO_NAS, outputs)
    n = int(np.asarray(num[b]).reshape(-1)[0])
    n = max(0, min(n, boxes.shape[1]))
    rows, sc, cl = boxes[b, :n].astype(np.float64), scores[b, :n].astype(np.float64), classes[b, :n]
    keep = (np.asarray(cl).astype(np.int64) == PERSON_CLASS) & (sc > thresholds.keep)
    return rows[keep], sc[keep]


class PersonDetector:
    """Person detector over any backend model, for each output contract (see the module's description).

    ``det_size`` (a multiple of 32 from 320 to 1280) letterboxes frames to that square instead of the
    model file's own input size; the model must accept it (``model.supports_input_hw``; the torch
    backend runs YOLOX at any such size, ``backends.load_detector`` picks a model that can).
    ``preprocess``: how to feed an end-to-end graph (default: its pipeline.json, see :func:`read_pipeline`).
    """

    def __init__(self, model: InferenceModel, channel_order: str = "bgr", det_size: Optional[int] = None,
                 preprocess: Optional[Preprocess] = None):
        if channel_order not in ("bgr", "rgb"):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', not {channel_order!r}")
        self.model = model
        path = getattr(model, "path", None)
        self.name = str(getattr(path, "name", "") or "the detector")
        path = Path(path) if isinstance(path, (str, Path)) else None
        self.contract = detector_contract(list(model.output_names), self.name)
        model_hw = tuple(getattr(model, "input_hw", None) or ())
        if preprocess is None:
            if self.contract == END2END:
                found = pipeline_path(path) if path is not None else None
                if found is not None:
                    preprocess = read_pipeline(found)
                else:
                    preprocess = replace(END2END_FALLBACK,
                                         input_hw=model_hw if len(model_hw) == 2 and all(model_hw) else (640, 640))
                    log.info("DWPose: no pipeline.json beside %s; feeding it like the HumanArt YOLOX files "
                             "(letterbox over 114, BGR, 0-255, %dx%d).", self.name, *preprocess.input_hw[::-1])
            elif self.contract == YOLO_NAS:
                preprocess = Preprocess(model_hw or (640, 640), channel_order, dtype="uint8")
            else:
                preprocess = Preprocess(model_hw, channel_order)
        self.preprocessing = preprocess
        self.channel_order = preprocess.channel_order
        self.input_hw = tuple(preprocess.input_hw)
        if det_size is not None:
            hw = (check_det_size(det_size),) * 2
            supports = getattr(model, "supports_input_hw", None)
            if hw != self.input_hw and not (supports is not None and supports(hw)):
                raise DetectorContractError(f"{self.name} runs at {self.input_hw[1]}x{self.input_hw[0]} only on "
                                 f"{model.info}; det_size {det_size} needs a model built for that size "
                                 "(load it with backends.load_detector(..., det_size=...)).")
            self.input_hw = hw

    def preprocess(self, frame_rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """One uint8 RGB frame -> the network's CHW input (float32 or uint8) and the scale ratio."""
        p = self.preprocessing
        canvas, ratio = letterbox(frame_rgb, self.input_hw, p.pad_value)
        if self.channel_order == "bgr":
            canvas = canvas[:, :, ::-1]
        if p.mean is not None:
            canvas = (canvas.astype(np.float32) - np.float32(p.mean)) / np.float32(p.std)
        return canvas.transpose(2, 0, 1), ratio

    def __call__(self, frames: list[np.ndarray], thresholds: Optional[DetectionThresholds] = None
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Detect people in uint8 RGB frames; per frame (boxes [K,4], scores [K]), K <= max_detections."""
        thresholds = thresholds or DetectionThresholds()
        results = []
        step = self.model.max_batch or len(frames) or 1
        p = self.preprocessing
        # A backend on an accelerator letterboxes on its device (frames go up once, as uint8): raw YOLOX only.
        on_device = device_path(self.model, "letterbox_and_run") if (
            self.contract == YOLOX and p.mean is None) else None
        names = list(self.model.output_names)
        dtype = np.uint8 if p.dtype == "uint8" else np.float32
        for start in range(0, len(frames), step):
            chunk = frames[start:start + step]
            if on_device is not None:
                sized = {} if self.input_hw == tuple(self.model.input_hw) else {"input_hw": self.input_hw}
                outputs, ratios = on_device(chunk, pad_value=p.pad_value, bgr=self.channel_order == "bgr", **sized)
            else:
                batch = np.empty((len(chunk), 3) + self.input_hw, dtype=dtype)
                ratios = []
                for k, frame in enumerate(chunk):
                    canvas, ratio = self.preprocess(frame)
                    batch[k] = canvas  # into the batch in place, no temporary copy
                    ratios.append(ratio)
                outputs = self.model.run(batch)
            for b, (ratio, frame) in enumerate(zip(ratios, chunk)):
                results.append(self._frame_result(outputs, names, b, float(ratio), thresholds, frame.shape[:2]))
        return results

    def _frame_result(self, outputs: dict, names: list, b: int, ratio: float, thresholds: DetectionThresholds,
                      frame_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        if self.contract == YOLOX:
            raw = np.asarray(outputs[names[0]])
            if raw.ndim != 3 or raw.shape[-1] < 6:
                raise _contract_mismatch(self.name, YOLOX, outputs)
            return postprocess(raw[b], ratio, thresholds, self.input_hw, frame_hw)
        if self.contract == END2END:
            order = ["dets", "labels"] if {"dets", "labels"} <= set(names) else names
            boxes, scores = _e2e_results(outputs, order, b, thresholds, self.name)
        else:
            boxes, scores = _nas_results(outputs, names, b, thresholds, self.name)
        return sanitize_boxes(boxes / ratio, scores, frame_hw, thresholds.max_detections)
