"""Top-down whole-body pose with RTMPose / DWPose SimCC models.

Per person box: centre and scale (box size x 1.25, widened to the model's
aspect ratio) -> affine crop of the uint8 RGB frame (bilinear, black outside)
-> ImageNet mean/std -> model -> SimCC argmax (bins / split ratio 2.0) ->
back to frame pixels with p = p_input / input_size * scale + centre - scale / 2.
Score = min of the two SimCC maxima. Input size and batch come from the model.

Box centre/scale and the way back to frame pixels are computed in float64, and
the affine matrix as the reference builds it (float32 point pairs solved in
float64 by cv2.getAffineTransform): float32 centre/scale arithmetic (0.72000003
for 0.72) moved 0.3% of the crop pixels by a grey level against
comfyui_controlnet_aux's crops; now they are bit-identical.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..backends.base import InferenceModel, device_path
from ..hub.errors import ModelKindError
from ..hub.registry import IMAGENET_MEAN, IMAGENET_STD

MEAN = np.array(IMAGENET_MEAN, dtype=np.float32)  # the registry's fact (RTMPose / DWPose, RGB)
STD = np.array(IMAGENET_STD, dtype=np.float32)
PADDING = 1.25
SIMCC_SPLIT_RATIO = 2.0
# Crops per model call for models that take any batch and do not chunk themselves (ONNX Runtime
# with a dynamic-batch graph). Measured with benchmarks/pose_chunks.py on a 2-core CPU, DWPose-l
# 384x288: 679 / 414 / 367 ms per crop at chunks of 1 / 4 / 8; larger chunks only cost memory
# (RTMPose-l's first feature map is 7 MB per crop).
CPU_CHUNK = 8


def box_to_center_scale(boxes: np.ndarray, aspect_ratio: float, padding: float = PADDING
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,4] xyxy -> centres [N,2] and scales [N,2] (w, h) with w/h == aspect_ratio (model w/h), float64."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    center = (boxes[:, :2] + boxes[:, 2:]) * 0.5
    scale = (boxes[:, 2:] - boxes[:, :2]) * padding
    w, h = scale[:, 0], scale[:, 1]
    wider = w > h * aspect_ratio
    return center, np.stack([np.where(wider, w, h * aspect_ratio), np.where(wider, w / aspect_ratio, h)], axis=1)


def warp_matrices(center: np.ndarray, scale: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """Forward affine [N,2,3] float64 (frame px -> crop px) mapping the scale box at centre onto the crop.

    Built as mmpose and comfyui_controlnet_aux build it, so that crops are bit-identical to theirs:
    three point pairs (the centre, the point half a box width above it, and the point perpendicular
    to those two), held as float32 points and solved by cv2.getAffineTransform (in float64).
    """
    import cv2

    center = np.asarray(center, dtype=np.float64).reshape(-1, 2)
    scale = np.asarray(scale, dtype=np.float64).reshape(-1, 2)
    out_h, out_w = input_hw
    n = len(center)
    src = np.empty((n, 3, 2), dtype=np.float32)
    src[:, 0] = center
    src[:, 1, 0] = center[:, 0]
    src[:, 1, 1] = center[:, 1] - scale[:, 0] * 0.5
    d = src[:, 0] - src[:, 1]  # the third point: (a - b) turned 90 degrees about b
    src[:, 2, 0] = src[:, 1, 0] - d[:, 1]
    src[:, 2, 1] = src[:, 1, 1] + d[:, 0]
    dst = np.array([[out_w * 0.5, out_h * 0.5], [out_w * 0.5, out_h * 0.5 - out_w * 0.5],
                    [out_w * 0.5 - out_w * 0.5, out_h * 0.5 - out_w * 0.5]], dtype=np.float32)
    mats = np.empty((n, 2, 3), dtype=np.float64)
    for k in range(n):
        mats[k] = cv2.getAffineTransform(src[k], dst)
    return mats


def warp_crop(frame_rgb: np.ndarray, matrix: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """One uint8 HxWx3 crop: cv2.warpAffine, bilinear, black border (as mmpose and comfyui_controlnet_aux)."""
    import cv2

    return cv2.warpAffine(frame_rgb, np.asarray(matrix, np.float64), (input_hw[1], input_hw[0]),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def normalise(patches: np.ndarray) -> np.ndarray:
    """uint8 crops (N, h, w, 3) -> float32 (N, 3, h, w), ImageNet mean/std, in one vectorised pass."""
    out = np.empty((patches.shape[0], 3) + patches.shape[1:3], dtype=np.float32)
    for c in range(3):  # per channel: a strided read, contiguous write; no (N,h,w,3) float temporary
        np.subtract(patches[..., c], MEAN[c], out=out[:, c], dtype=np.float32)
        np.divide(out[:, c], STD[c], out=out[:, c])
    return out


def crop(frame_rgb: np.ndarray, matrix: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """Warp one crop from a uint8 frame (bilinear, black border) and normalise to CHW float32."""
    return normalise(warp_crop(frame_rgb, matrix, input_hw)[None])[0]


def crops(frames: list[np.ndarray], frame_index: np.ndarray, matrices: np.ndarray,
          input_hw: tuple[int, int]) -> np.ndarray:
    """All crops of a chunk, normalised: (N, 3, h, w) float32."""
    patches = np.empty((len(matrices),) + tuple(input_hw) + (3,), dtype=np.uint8)
    for k, (i, m) in enumerate(zip(frame_index, matrices)):
        patches[k] = warp_crop(frames[int(i)], m, input_hw)
    return normalise(patches)


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float = SIMCC_SPLIT_RATIO
                 ) -> tuple[np.ndarray, np.ndarray]:
    """SimCC [N,K,Wx], [N,K,Wy] -> keypoints [N,K,2] in crop pixels and scores [N,K] (min of maxima)."""
    x_idx = simcc_x.argmax(axis=2)
    y_idx = simcc_y.argmax(axis=2)
    x_max = np.take_along_axis(simcc_x, x_idx[..., None], axis=2)[..., 0]
    y_max = np.take_along_axis(simcc_y, y_idx[..., None], axis=2)[..., 0]
    keypoints = np.stack([x_idx, y_idx], axis=-1).astype(np.float64) / split_ratio
    scores = np.minimum(x_max, y_max).astype(np.float32)
    return keypoints, scores


def to_frame_coords(keypoints: np.ndarray, center: np.ndarray, scale: np.ndarray,
                    input_hw: tuple[int, int]) -> np.ndarray:
    """Crop-pixel keypoints [N,K,2] -> frame pixels (float64)."""
    size = np.array([input_hw[1], input_hw[0]], dtype=np.float64)
    scale = np.asarray(scale, np.float64)
    return np.asarray(keypoints, np.float64) / size * scale[:, None, :] + center[:, None, :] - scale[:, None, :] / 2


class WholeBodyPoseModel:
    """RTMPose/DWPose over any backend model; batches all crops as far as the model allows.

    ``chunk_size``: crops per model call for models that take any batch (default: the
    backend's own measured chunk when it has one, else ``CPU_CHUNK``); fixed-batch files
    (the published ONNX, batch 1) get exactly their batch.
    """

    num_keypoints = 133  # SimCC rows the model must give (stages/hands.py: 21)

    def __init__(self, model: InferenceModel, chunk_size: Optional[int] = None):
        names = list(model.output_names)
        if {"simcc_x", "simcc_y"} <= set(names):
            self.x_name, self.y_name = "simcc_x", "simcc_y"
        elif len(names) == 2:  # some re-exports (hr16/UnJIT-DWPose) name them differently: x first
            self.x_name, self.y_name = names
        else:
            raise ModelKindError(
                f"{model.path.name} is not a SimCC pose model: outputs are {list(model.output_names)}, "
                "expected simcc_x and simcc_y. Did you pass the detector as the pose model?"
            )
        if chunk_size is not None and (not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
        self.model = model
        self.input_hw = tuple(model.input_hw)
        self.chunk_size = chunk_size

    def _step(self, max_crops_per_call: Optional[int]) -> int:
        if self.model.max_batch:
            return int(self.model.max_batch)
        if max_crops_per_call is not None:
            return int(max_crops_per_call)
        if self.chunk_size is not None:
            return self.chunk_size
        # A backend that chunks internally (torch: measured per device, halved on OOM) takes it all at once.
        return 1 << 30 if getattr(self.model, "chunk_size", None) else CPU_CHUNK

    def __call__(self, frames: list[np.ndarray], frame_index: np.ndarray, boxes: np.ndarray,
                 max_crops_per_call: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
        """Pose for every box; box i belongs to frames[frame_index[i]]. Returns [N,K,2], [N,K] (K = 133)."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        n = len(boxes)
        k = self.num_keypoints
        if n == 0:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        if not np.isfinite(boxes).all():
            raise ValueError("Pose boxes must be finite; clip them with detection.sanitize_boxes first.")
        frame_index = np.asarray(frame_index, dtype=np.int64).reshape(-1)
        h, w = self.input_hw
        center, scale = box_to_center_scale(boxes, w / h)
        mats = warp_matrices(center, scale, self.input_hw)
        step = self._step(max_crops_per_call)
        xs, ys = [], []
        warp_and_run = device_path(self.model, "warp_and_run")
        for start in range(0, n, step):
            sl = slice(start, start + step)
            if warp_and_run is not None:
                out = warp_and_run(frames, frame_index[sl], mats[sl], MEAN, STD)
            else:
                out = self.model.run(crops(frames, frame_index[sl], mats[sl], self.input_hw))
            xs.append(out[self.x_name])
            ys.append(out[self.y_name])
        simcc_x, simcc_y = np.concatenate(xs), np.concatenate(ys)
        if simcc_x.shape[1] != k or simcc_y.shape[1] != k:
            got = simcc_x.shape[1]
            hint = {21: " It is a hand model: use it for the hand refinement (--refine-hands).",
                    133: " It is a whole-body model: give it as the pose model (--pose)."}.get(got, "")
            raise ModelKindError(f"{self.model.path.name} gives {got} keypoints; {k} are needed here.{hint}")
        keypoints, scores = decode_simcc(simcc_x, simcc_y)
        return to_frame_coords(keypoints, center, scale, self.input_hw).astype(np.float32), scores
