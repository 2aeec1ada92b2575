"""Image normalisation at the core's boundary, and non-ASCII-safe file I/O.

The rule for what enters the core (every stage after this sees uint8 RGB, H x W x 3):
- grayscale (H x W or H x W x 1): replicated to three channels;
- RGBA (H x W x 4): composited over white, as the common annotators' HWC3 does;
- uint16: divided by 257 (65535 -> 255), rounded;
- float (any float dtype): taken as 0..1, clipped, scaled to 0..255 and rounded;
- other integer types: clipped to 0..255;
- empty or zero-sized images: ValueError saying what was received.

torch tensors follow ComfyUI's IMAGE layout, channels last: one image is (H, W, C) or
(H, W), a batch is (N, H, W, C), with C in 1, 3, 4 (float 0..1, or uint8). They are moved
to the CPU (float16/bfloat16 read as float32). Channels-first tensors ((C, H, W), (N, C, H, W))
are refused with a message saying how to permute them, never read as another layout; so is a
batch handed over where one image is expected. A shape whose last axis is 1, 3 or 4 is
channels last. torch is never imported here.

Files: :func:`read_image` reads the pixel size from the PNG, JPEG, WebP, BMP or TIFF header
first and refuses an image over ``max_pixels`` (default 100 megapixels; the environment
variable ``DWPOSE_MAX_PIXELS`` overrides it; 0 turns the check off) before anything is
decoded. Files whose header gives no size are left to OpenCV's own limit
(``OPENCV_IO_MAX_IMAGE_PIXELS``, 2^30 by default) and checked after decoding.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import DWPoseError, InputError, UsageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".gif"}
DEFAULT_MAX_PIXELS = 100_000_000
CHANNELS = (1, 3, 4)


class ImageTooLargeError(DWPoseError, ValueError):
    """The image declares more pixels than the limit; nothing was decoded."""


class ImageReadError(InputError):
    """An image file that cannot be decoded (corrupt, truncated or another kind of file); exit code 1."""


class PixelLimitSettingError(UsageError, ValueError):
    """``DWPOSE_MAX_PIXELS`` (or ``max_pixels``) is not a pixel count >= 0; exit code 2."""


# ----------------------------------------------------------------------------- arrays and tensors

def _is_tensor(obj) -> bool:
    return type(obj).__module__.split(".")[0] == "torch" and hasattr(obj, "detach")


def _tensor_to_numpy(tensor) -> np.ndarray:
    t = tensor.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_floating_point() and t.dtype.itemsize < 4:  # float16/bfloat16: numpy has no bfloat16
        t = t.float()
    return t.numpy()


def _channels_first_error(shape, batch: bool) -> ValueError:
    order = "(N, C, H, W)" if batch else "(C, H, W)"
    fix = "tensor.permute(0, 2, 3, 1)" if batch else "tensor.permute(1, 2, 0)"
    return ValueError(f"Got a channels-first torch tensor {tuple(shape)} {order}; images are channels last "
                      f"(ComfyUI IMAGE layout (N, H, W, C) or one (H, W, C)). Pass {fix}.")


def _looks_channels_first(shape) -> bool:
    return len(shape) >= 3 and shape[-1] not in CHANNELS and shape[-3] in CHANNELS


def to_rgb_uint8(image) -> np.ndarray:
    """Return ``image`` as a contiguous uint8 RGB H x W x 3 array (see the module rule)."""
    if _is_tensor(image):
        shape = tuple(image.shape)
        if len(shape) == 3 and _looks_channels_first(shape):
            raise _channels_first_error(shape, batch=False)
        if len(shape) == 4:
            raise ValueError(f"Got a batch tensor {shape} where one image is expected; pass its frames one by one "
                             "(or the whole batch where frames are expected).")
        image = _tensor_to_numpy(image)
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


def to_frame_list(frames) -> list[np.ndarray]:
    """Frames in any accepted form -> list of uint8 RGB H x W x 3 arrays.

    Accepted: one image (array or tensor, H x W [x C]); a batch (N, H, W, C) array or tensor;
    a list/tuple of images. A 3-D array or tensor is one image (channels last), never a batch of
    grayscale frames; channels-first tensors are refused (see the module rule)."""
    if _is_tensor(frames):
        shape = tuple(frames.shape)
        if len(shape) == 4:
            if _looks_channels_first(shape):
                raise _channels_first_error(shape, batch=True)
            if shape[-1] not in CHANNELS:
                raise ValueError(f"Expected a batch tensor (N, H, W, C) with C in 1, 3, 4; got {shape}.")
            arr = _tensor_to_numpy(frames)
            return [to_rgb_uint8(f) for f in arr]
        if len(shape) in (2, 3):
            return [to_rgb_uint8(frames)]
        raise ValueError(f"Expected frames as (N, H, W, C) or one image; got a tensor of shape {shape}.")
    if isinstance(frames, np.ndarray):
        if frames.ndim == 4:
            return [to_rgb_uint8(f) for f in frames]
        if frames.ndim in (2, 3):
            return [to_rgb_uint8(frames)]
        raise ValueError(f"Expected frames as (N, H, W, C) or one image; got an array of shape {frames.shape}.")
    return [to_rgb_uint8(f) for f in frames]


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


# ----------------------------------------------------------------------------- files

def max_pixels_limit(max_pixels: Optional[int] = None) -> int:
    """The pixel limit in force: the argument, else ``DWPOSE_MAX_PIXELS``, else 100 megapixels (0 = none)."""
    if max_pixels is None:
        text = os.environ.get("DWPOSE_MAX_PIXELS", "").strip()
        if not text:
            return DEFAULT_MAX_PIXELS
        try:
            max_pixels = int(float(text))
        except ValueError:
            raise PixelLimitSettingError(
                f"DWPOSE_MAX_PIXELS must be a number of pixels (0 = no limit), not {text!r}.") from None
    if max_pixels < 0:
        raise PixelLimitSettingError(f"The pixel limit must be >= 0 (0 = no limit), got {max_pixels}.")
    return int(max_pixels)


def header_size(data: bytes) -> Optional[tuple[int, int]]:
    """(width, height) declared by a PNG, JPEG, WebP, BMP or TIFF header; None when not found."""
    try:
        for magic, reader in _READERS:
            if data.startswith(magic):
                size = reader(data)
                return size if size is not None and size[0] >= 0 and size[1] >= 0 else None
    except (struct.error, IndexError, ValueError):
        return None
    return None


def _png(data: bytes):
    if data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes):
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker in _JPEG_SOF:
            h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
            return w, h
        if marker == 0xDA or length < 2:  # scan data before any frame header
            return None
        pos += 2 + length
    return None


def _webp(data: bytes):
    if data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        bits = struct.unpack("<I", data[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    return None


def _bmp(data: bytes):
    header = struct.unpack("<I", data[14:18])[0]
    if header == 12:  # BITMAPCOREHEADER
        w, h = struct.unpack("<HH", data[18:22])
    else:
        w, h = struct.unpack("<ii", data[18:26])
    return abs(w), abs(h)  # negative height: rows stored top-down


def _tiff(data: bytes):
    endian = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack(endian + "I", data[4:8])
    (count,) = struct.unpack(endian + "H", data[offset:offset + 2])
    found = {}
    for k in range(count):
        entry = data[offset + 2 + 12 * k: offset + 14 + 12 * k]
        tag, kind = struct.unpack(endian + "HH", entry[:4])
        if tag in (256, 257):
            found[tag] = struct.unpack(endian + ("H" if kind == 3 else "I"), entry[8:10] if kind == 3 else entry[8:12])[0]
    return (found[256], found[257]) if len(found) == 2 else None


_READERS = ((b"\x89PNG\r\n\x1a\n", _png), (b"\xff\xd8", _jpeg), (b"RIFF", _webp), (b"BM", _bmp),
            (b"II*\x00", _tiff), (b"MM\x00*", _tiff))


def check_pixel_limit(size: Optional[tuple[int, int]], name, max_pixels: Optional[int] = None) -> None:
    """Raise :class:`ImageTooLargeError` when ``size`` (W, H) is over the limit; ``name`` starts the message
    (the file's path, or "the image" where the caller names the file itself)."""
    limit = max_pixels_limit(max_pixels)
    if size is None or not limit:
        return
    w, h = size
    if w * h > limit:
        raise ImageTooLargeError(
            f"{name} is {w}x{h} = {w * h / 1e6:.1f} megapixels, over the limit of {limit / 1e6:g} megapixels; "
            "resize it, or raise the limit (max_pixels / DWPOSE_MAX_PIXELS, 0 = no limit).")


def read_image(path: Union[str, Path], max_pixels: Optional[int] = None) -> np.ndarray:
    """Read an image file as uint8 RGB (non-ASCII paths work; 16-bit and alpha follow the rule).

    Images over the pixel limit (see the module) are refused from their header, before decoding."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    check_pixel_limit(header_size(data[:1 << 22].tobytes()) if data.size else None, path, max_pixels)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ImageReadError(f"Could not read {path} as an image (unsupported or corrupt file).")
    check_pixel_limit((image.shape[1], image.shape[0]), path, max_pixels)
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
