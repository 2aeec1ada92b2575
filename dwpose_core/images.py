"""Image normalisation at the core's boundary, and non-ASCII-safe file I/O.

The rule for what enters the core (every stage after this sees uint8 RGB, H x W x 3):
- grayscale (H x W or H x W x 1): replicated to three channels;
- RGBA (H x W x 4): composited over white, as the common annotators' HWC3 does;
- uint16: divided by 257 (65535 -> 255), rounded;
- float (any float dtype): taken as 0..1, clipped, scaled to 0..255 and rounded;
- other integer types: clipped to 0..255;
- empty or zero-sized images: ValueError saying what was received.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".gif"}


def to_rgb_uint8(image) -> np.ndarray:
    """Return ``image`` as a contiguous uint8 RGB H x W x 3 array (see the module rule)."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError(
            f"Expected an image of shape H x W, H x W x 1, H x W x 3 or H x W x 4; got shape {arr.shape}."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"The image is empty (shape {arr.shape}); pass an image with at least one pixel.")
    arr = _to_uint8_values(arr)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 4:
        rgb = arr[:, :, :3].astype(np.float32)
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = np.round(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _to_uint8_values(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return np.round(arr.astype(np.float32) / 257.0).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        return np.clip(arr, 0, 255).astype(np.uint8)
    raise ValueError(f"Unsupported image dtype {arr.dtype}; use uint8, uint16 or float in 0..1.")


def read_image(path: Union[str, Path]) -> np.ndarray:
    """Read an image file as uint8 RGB (non-ASCII paths work; 16-bit and alpha follow the rule)."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ValueError(f"Could not read {path} as an image (unsupported or corrupt file).")
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        image = cv2.cvtColor(image, code)
    return to_rgb_uint8(image)


def write_image(path: Union[str, Path], rgb: np.ndarray) -> None:
    """Write a uint8 RGB image; the format follows the suffix (non-ASCII paths work)."""
    import cv2

    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", cv2.cvtColor(to_rgb_uint8(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"Could not encode an image for {path}.")
    encoded.tofile(str(path))
