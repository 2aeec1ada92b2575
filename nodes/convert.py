"""ComfyUI types <-> the core's types.

IMAGE is a torch tensor (B, H, W, C) float 0..1; the core takes uint8 RGB
H x W x 3 frames and applies its one documented rule to everything else
(``dwpose_core.files.images.to_rgb_uint8``: 1 channel replicated, 4 channels
composited over white, floats clipped to 0..1). A MASK (B, H, W) is accepted
where an image is expected and read as grayscale by that same rule.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def image_batch_to_frames(image, node_name: str) -> list[np.ndarray]:
    """IMAGE tensor (or array) -> list of uint8 RGB frames; an empty batch is a clear error."""
    from dwpose_core.files.images import to_rgb_uint8

    if image is None:
        raise ValueError(f"{node_name}: no image is connected; connect an IMAGE (for example from Load Image).")
    arr = image.detach().cpu().float().numpy() if hasattr(image, "detach") else np.asarray(image)
    if arr.ndim == 2:  # one mask
        arr = arr[None]
    if arr.ndim not in (3, 4):  # 4: IMAGE (B, H, W, C); 3: MASK (B, H, W), frames read as grayscale
        raise ValueError(f"{node_name}: expected an IMAGE batch (B, H, W, C) or a MASK (B, H, W); "
                         f"got shape {tuple(arr.shape)}.")
    if arr.shape[0] == 0:
        raise ValueError(f"{node_name}: the image batch is empty (0 frames); connect a batch with at least one image.")
    try:
        return [to_rgb_uint8(frame) for frame in arr]
    except ValueError as exc:
        raise ValueError(f"{node_name}: {exc}") from exc


def frames_to_image_batch(frames: Sequence[np.ndarray]):
    """List of equally sized uint8 RGB frames -> IMAGE tensor (B, H, W, 3) float32 0..1 on the CPU."""
    import torch

    stacked = np.stack([np.asarray(f, dtype=np.uint8) for f in frames])
    return torch.from_numpy(stacked.astype(np.float32) / 255.0)
