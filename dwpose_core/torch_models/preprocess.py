"""Pose crops and detector letterboxing on the model's device, matching the OpenCV path.

``warp_crops`` reproduces ``cv2.warpAffine(img, M, (w, h), INTER_LINEAR,
BORDER_CONSTANT, 0)`` for many crops at once: pixel centres at integer
coordinates, bilinear weights, neighbours outside the frame count as black,
result rounded to 8 bits (so the network sees the same numbers as from a
uint8 crop). It equals OpenCV >= 4.11 (float warp kernels) to within one
grey level at a few pixels; older OpenCV (fixed-point, 1/32-pixel
coordinates) differs by up to 3 levels at sharp edges.

``letterbox`` reproduces YOLOX's preprocessing (``cv2.resize`` INTER_LINEAR to
``r = min(H/h, W/w)``, top-left placement, fill 114) within a grey level or two.

Everything is batched over crops/frames: no Python loop per crop.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def invert_affine(matrices: np.ndarray) -> np.ndarray:
    """cv2.invertAffineTransform for a stack (N, 2, 3), in float64 as OpenCV does."""
    m = np.asarray(matrices, dtype=np.float64).reshape(-1, 2, 3)
    det = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
    d = np.divide(1.0, det, out=np.zeros_like(det), where=det != 0)
    a11, a22, a12, a21 = m[:, 1, 1] * d, m[:, 0, 0] * d, -m[:, 0, 1] * d, -m[:, 1, 0] * d
    b1 = -a11 * m[:, 0, 2] - a12 * m[:, 1, 2]
    b2 = -a21 * m[:, 0, 2] - a22 * m[:, 1, 2]
    return np.stack([np.stack([a11, a12, b1], 1), np.stack([a21, a22, b2], 1)], 1)


def upload_frames(frames: Sequence[np.ndarray], index: np.ndarray, device: torch.device):
    """Group the frames used by ``index`` by shape: [(frame_ids, (F, H, W, 3) uint8 tensor on device)]."""
    used = np.unique(np.asarray(index, dtype=np.int64))
    by_shape: dict[tuple, list[int]] = {}
    for i in used:
        by_shape.setdefault(tuple(frames[i].shape), []).append(int(i))
    groups = []
    for ids in by_shape.values():
        stack = torch.stack([torch.from_numpy(np.ascontiguousarray(frames[i], dtype=np.uint8)).to(device)
                             for i in ids])
        groups.append((np.asarray(ids), stack))
    return groups


def warp_crops(frames: torch.Tensor, frame_pos: torch.Tensor, inverse: torch.Tensor,
               out_hw: tuple[int, int]) -> torch.Tensor:
    """Bilinear affine crops of same-size frames.

    frames: (F, H, W, C) uint8 on the device; frame_pos: (N,) long, which frame
    each crop comes from; inverse: (N, 2, 3) float32 crop->frame matrices.
    Returns (N, h, w, C) float32 holding rounded 0..255 values.
    """
    n = frame_pos.shape[0]
    f, height, width, chans = frames.shape
    h, w = out_hw
    dev = frames.device
    xs = torch.arange(w, device=dev, dtype=torch.float32).view(1, 1, w)
    ys = torch.arange(h, device=dev, dtype=torch.float32).view(1, h, 1)
    a = inverse.to(dev, torch.float32)
    # Source coordinates of every output pixel centre (row terms first, as OpenCV sums them).
    sx = a[:, 0, 0].view(n, 1, 1) * xs + (a[:, 0, 1].view(n, 1, 1) * ys + a[:, 0, 2].view(n, 1, 1))
    sy = a[:, 1, 0].view(n, 1, 1) * xs + (a[:, 1, 1].view(n, 1, 1) * ys + a[:, 1, 2].view(n, 1, 1))
    x0f, y0f = torch.floor(sx), torch.floor(sy)
    fx, fy = (sx - x0f).unsqueeze(-1), (sy - y0f).unsqueeze(-1)
    # Clamp far-away coordinates before integer conversion; they read as black anyway.
    x0 = x0f.clamp(-2, width + 1).long()
    y0 = y0f.clamp(-2, height + 1).long()
    flat = frames.reshape(f * height * width, chans)
    base = (frame_pos.to(dev).long() * (height * width)).view(n, 1, 1)

    def tap(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        inside = ((xx >= 0) & (xx < width) & (yy >= 0) & (yy < height)).unsqueeze(-1)
        idx = base + yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)
        return flat[idx].float() * inside

    top = tap(y0, x0) * (1 - fx) + tap(y0, x0 + 1) * fx
    bottom = tap(y0 + 1, x0) * (1 - fx) + tap(y0 + 1, x0 + 1) * fx
    return torch.round(top * (1 - fy) + bottom * fy).clamp_(0, 255)


def crops_for_model(frames: Sequence[np.ndarray], frame_index: np.ndarray, matrices: np.ndarray,
                    out_hw: tuple[int, int], mean: Sequence[float], std: Sequence[float],
                    device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(N, 3, h, w) normalised crops on ``device`` in ``dtype`` (RGB frames in, RGB crops out)."""
    frame_index = np.asarray(frame_index, dtype=np.int64).reshape(-1)
    inverse = torch.from_numpy(invert_affine(matrices).astype(np.float32))
    out = torch.empty((len(frame_index), out_hw[0], out_hw[1], 3), device=device, dtype=torch.float32)
    for ids, stack in upload_frames(frames, frame_index, device):
        sel = np.nonzero(np.isin(frame_index, ids))[0]
        pos = np.searchsorted(ids, frame_index[sel])
        sel_t = torch.from_numpy(sel).to(device)
        out[sel_t] = warp_crops(stack, torch.from_numpy(pos).to(device), inverse[sel].to(device), out_hw)
    mean_t = torch.as_tensor(np.asarray(mean, np.float32), device=device)
    std_t = torch.as_tensor(np.asarray(std, np.float32), device=device)
    out = (out - mean_t) / std_t
    return out.permute(0, 3, 1, 2).to(dtype)


def letterbox(frames: Sequence[np.ndarray], out_hw: tuple[int, int], device: torch.device, dtype: torch.dtype,
              pad_value: float = 114.0, bgr: bool = True) -> tuple[torch.Tensor, np.ndarray]:
    """YOLOX letterbox on the device: (N, 3, H, W) batch in ``dtype`` and the scale ratios (N,)."""
    height, width = out_hw
    batch = torch.full((len(frames), 3, height, width), float(pad_value), device=device, dtype=torch.float32)
    ratios = np.empty(len(frames), dtype=np.float64)
    for ids, stack in upload_frames(frames, np.arange(len(frames)), device):
        fh, fw = stack.shape[1:3]
        r = min(height / fh, width / fw)
        nh, nw = max(1, int(fh * r)), max(1, int(fw * r))
        img = stack.permute(0, 3, 1, 2).float()
        if bgr:
            img = img.flip(1)
        resized = torch.nn.functional.interpolate(img, size=(nh, nw), mode="bilinear", align_corners=False)
        batch[torch.from_numpy(ids).to(device), :, :nh, :nw] = torch.round(resized).clamp_(0, 255)
        ratios[ids] = r
    return batch.to(dtype), ratios
