"""Top-down whole-body pose with RTMPose / DWPose SimCC models.

Per person box: centre and scale (box size x 1.25, widened to the model's
aspect ratio) -> affine crop of the uint8 RGB frame (bilinear, black outside)
-> ImageNet mean/std -> model -> SimCC argmax (bins / split ratio 2.0) ->
back to frame pixels with p = p_input / input_size * scale + centre - scale / 2.
Score = min of the two SimCC maxima. Input size and batch come from the model.
"""
from __future__ import annotations

import numpy as np

from .backends.base import InferenceModel

MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
PADDING = 1.25
SIMCC_SPLIT_RATIO = 2.0


def box_to_center_scale(boxes: np.ndarray, aspect_ratio: float, padding: float = PADDING
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,4] xyxy -> centres [N,2] and scales [N,2] (w, h) with w/h == aspect_ratio (model w/h)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    center = (boxes[:, :2] + boxes[:, 2:]) / 2
    scale = (boxes[:, 2:] - boxes[:, :2]) * padding
    w, h = scale[:, 0].copy(), scale[:, 1].copy()
    wider = w > h * aspect_ratio
    h = np.where(wider, w / aspect_ratio, h)
    w = np.where(wider, w, h * aspect_ratio)
    return center, np.stack([w, h], axis=1).astype(np.float32)


def warp_matrices(center: np.ndarray, scale: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """Forward affine [N,2,3] (frame px -> crop px) mapping the scale box at centre onto the crop."""
    out_h, out_w = input_hw
    s = out_w / scale[:, 0]  # == out_h / scale[:, 1] after the aspect fix
    mats = np.zeros((len(center), 2, 3), dtype=np.float64)
    mats[:, 0, 0] = s
    mats[:, 1, 1] = s
    mats[:, 0, 2] = out_w / 2 - s * center[:, 0]
    mats[:, 1, 2] = out_h / 2 - s * center[:, 1]
    return mats


def crop(frame_rgb: np.ndarray, matrix: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """Warp one crop from a uint8 frame (bilinear, black border) and normalise to CHW float32."""
    import cv2

    patch = cv2.warpAffine(frame_rgb, matrix, (input_hw[1], input_hw[0]), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return ((patch.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float = SIMCC_SPLIT_RATIO
                 ) -> tuple[np.ndarray, np.ndarray]:
    """SimCC [N,K,Wx], [N,K,Wy] -> keypoints [N,K,2] in crop pixels and scores [N,K] (min of maxima)."""
    x_idx = simcc_x.argmax(axis=2)
    y_idx = simcc_y.argmax(axis=2)
    x_max = np.take_along_axis(simcc_x, x_idx[..., None], axis=2)[..., 0]
    y_max = np.take_along_axis(simcc_y, y_idx[..., None], axis=2)[..., 0]
    keypoints = np.stack([x_idx, y_idx], axis=-1).astype(np.float32) / split_ratio
    scores = np.minimum(x_max, y_max).astype(np.float32)
    return keypoints, scores


def to_frame_coords(keypoints: np.ndarray, center: np.ndarray, scale: np.ndarray,
                    input_hw: tuple[int, int]) -> np.ndarray:
    """Crop-pixel keypoints [N,K,2] -> frame pixels."""
    size = np.array([input_hw[1], input_hw[0]], dtype=np.float32)
    return keypoints / size * scale[:, None, :] + center[:, None, :] - scale[:, None, :] / 2


class WholeBodyPoseModel:
    """RTMPose/DWPose over any backend model; batches all crops as far as the model allows."""

    def __init__(self, model: InferenceModel):
        names = list(model.output_names)
        if {"simcc_x", "simcc_y"} <= set(names):
            self.x_name, self.y_name = "simcc_x", "simcc_y"
        elif len(names) == 2:  # some re-exports (hr16/UnJIT-DWPose) name them differently: x first
            self.x_name, self.y_name = names
        else:
            raise ValueError(
                f"{model.path.name} is not a SimCC pose model: outputs are {list(model.output_names)}, "
                "expected simcc_x and simcc_y. Did you pass the detector as the pose model?"
            )
        self.model = model
        self.input_hw = tuple(model.input_hw)

    def __call__(self, frames: list[np.ndarray], frame_index: np.ndarray, boxes: np.ndarray,
                 max_crops_per_call: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Pose for every box; box i belongs to frames[frame_index[i]]. Returns [N,133,2], [N,133]."""
        n = len(boxes)
        if n == 0:
            return np.zeros((0, 133, 2), np.float32), np.zeros((0, 133), np.float32)
        h, w = self.input_hw
        center, scale = box_to_center_scale(boxes, w / h)
        mats = warp_matrices(center, scale, self.input_hw)
        step = self.model.max_batch or max_crops_per_call
        xs, ys = [], []
        warp_and_run = getattr(self.model, "warp_and_run", None)
        for start in range(0, n, step):
            sl = slice(start, start + step)
            if warp_and_run is not None:
                out = warp_and_run(frames, frame_index[sl], mats[sl], MEAN, STD)
            else:
                batch = np.stack([crop(frames[i], m, self.input_hw) for i, m in zip(frame_index[sl], mats[sl])])
                out = self.model.run(batch)
            xs.append(out[self.x_name])
            ys.append(out[self.y_name])
        keypoints, scores = decode_simcc(np.concatenate(xs), np.concatenate(ys))
        return to_frame_coords(keypoints, center, scale, self.input_hw).astype(np.float32), scores
