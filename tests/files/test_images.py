import numpy as np
import pytest

from dwpose_core.files.images import read_image, to_rgb_uint8, write_image


def test_grayscale_is_replicated():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = to_rgb_uint8(gray)
    assert out.shape == (3, 4, 3) and (out == gray[:, :, None]).all()
    assert (to_rgb_uint8(gray[:, :, None]) == out).all()


def test_rgba_is_composited_over_white():
    rgba = np.zeros((1, 3, 4), np.uint8)
    rgba[0, 0] = (200, 100, 0, 255)  # opaque: unchanged
    rgba[0, 1] = (200, 100, 0, 0)  # transparent: white
    rgba[0, 2] = (0, 0, 0, 128)  # half: 255 * (1 - 128/255) = 127
    out = to_rgb_uint8(rgba)
    assert out[0, 0].tolist() == [200, 100, 0]
    assert out[0, 1].tolist() == [255, 255, 255]
    assert out[0, 2].tolist() == [127, 127, 127]


def test_16_bit_and_float():
    assert to_rgb_uint8(np.full((2, 2, 3), 65535, np.uint16))[0, 0, 0] == 255
    assert to_rgb_uint8(np.full((2, 2, 3), 257 * 100, np.uint16))[0, 0, 0] == 100
    f = np.array([[[0.0, 0.5, 1.0], [-1.0, 2.0, np.nan]]], np.float32)
    assert to_rgb_uint8(f).tolist() == [[[0, 128, 255], [0, 255, 0]]]


@pytest.mark.parametrize("shape", [(0, 10, 3), (10, 0, 3), (0, 0)])
def test_empty_image_is_a_clear_error(shape):
    with pytest.raises(ValueError, match="empty"):
        to_rgb_uint8(np.zeros(shape, np.uint8))


def test_wrong_channel_count_is_a_clear_error():
    with pytest.raises(ValueError, match="shape"):
        to_rgb_uint8(np.zeros((4, 4, 2), np.uint8))


def test_non_ascii_path_round_trip(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "données_ポーズ.png"
    write_image(path, image)
    assert (read_image(path) == image).all()


def test_unreadable_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="Could not read"):
        read_image(bad)


# ----------------------------------------------------------------------------- pixel limit before decoding

import struct  # noqa: E402

import cv2  # noqa: E402

from dwpose_core.files.images import ImageTooLargeError, header_size, max_pixels_limit, to_frame_list  # noqa: E402

FORMATS = [".png", ".jpg", ".webp", ".bmp", ".tif"]


def _encoded(suffix, w=37, h=23):
    image = np.random.default_rng(1).integers(0, 255, (h, w, 3), dtype=np.uint8)
    params = [cv2.IMWRITE_WEBP_QUALITY, 90] if suffix == ".webp" else []  # lossy VP8
    ok, buf = cv2.imencode(suffix, image, params)
    assert ok
    return bytearray(buf.tobytes())


@pytest.mark.parametrize("suffix", FORMATS)
def test_header_gives_the_encoded_size(suffix):
    assert header_size(bytes(_encoded(suffix))) == (37, 23)


def test_header_of_a_webp_lossless_and_a_progressive_jpeg():
    image = np.zeros((19, 41, 3), np.uint8)
    ok, lossless = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, 101])
    ok2, progressive = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok and ok2
    assert header_size(lossless.tobytes()) == (41, 19) and header_size(progressive.tobytes()) == (41, 19)


def _declare_huge(suffix, data: bytearray, w=20000, h=20000) -> bytearray:
    """Rewrite only the header's size fields (the pixel data stays tiny)."""
    if suffix == ".png":
        data[16:24] = struct.pack(">II", w, h)
    elif suffix == ".jpg":
        pos = 2
        while data[pos + 1] not in (0xC0, 0xC1, 0xC2):
            pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
        data[pos + 5:pos + 9] = struct.pack(">HH", h, w)
    elif suffix == ".webp":
        assert data[12:16] == b"VP8 "
        data[26:30] = struct.pack("<HH", 16000, 16000)  # VP8's largest: 256 megapixels
    elif suffix == ".bmp":
        data[18:26] = struct.pack("<ii", w, h)
    elif suffix == ".tif":
        (offset,) = struct.unpack("<I", data[4:8])
        (count,) = struct.unpack("<H", data[offset:offset + 2])
        for k in range(count):
            at = offset + 2 + 12 * k
            tag, kind = struct.unpack("<HH", data[at:at + 4])
            if tag in (256, 257):
                data[at + 8:at + 12] = struct.pack("<H", w if tag == 256 else h) + b"\0\0" if kind == 3 else \
                    struct.pack("<I", w if tag == 256 else h)
    return data


@pytest.mark.parametrize("suffix", FORMATS)
def test_a_huge_declared_size_is_refused_before_decoding(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"huge{suffix}"
    path.write_bytes(bytes(_declare_huge(suffix, _encoded(suffix))))
    assert header_size(path.read_bytes())[0] >= 16000

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded despite the limit")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    with pytest.raises(ImageTooLargeError, match="megapixels, over the limit of 100 megapixels"):
        read_image(path)


def test_the_limit_is_a_parameter_and_an_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    write_image(path, np.zeros((100, 100, 3), np.uint8))  # 10 000 pixels
    assert read_image(path).shape == (100, 100, 3)
    with pytest.raises(ImageTooLargeError, match="100x100"):
        read_image(path, max_pixels=9999)
    assert read_image(path, max_pixels=10000).shape == (100, 100, 3)
    monkeypatch.setenv("DWPOSE_MAX_PIXELS", "5000")
    with pytest.raises(ImageTooLargeError):
        read_image(path)
    monkeypatch.setenv("DWPOSE_MAX_PIXELS", "0")  # 0 = no limit
    assert read_image(path).shape == (100, 100, 3)
    monkeypatch.setenv("DWPOSE_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="DWPOSE_MAX_PIXELS"):
        read_image(path)
    monkeypatch.delenv("DWPOSE_MAX_PIXELS")
    assert max_pixels_limit() == 100_000_000


def test_truncated_or_garbled_headers_give_no_size():
    png = bytes(_encoded(".png"))
    assert header_size(png[:20]) is None and header_size(b"\xff\xd8\xff") is None and header_size(b"") is None
    assert header_size(b"RIFF\0\0\0\0WEBPVP8 ") is None


# ----------------------------------------------------------------------------- torch tensors

def test_comfy_image_tensors_are_channels_last_float():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    batch = rng.random((2, 5, 7, 3), dtype=np.float32)
    frames = to_frame_list(torch.from_numpy(batch))
    assert len(frames) == 2
    for got, want in zip(frames, batch):
        assert (got == to_rgb_uint8(want)).all()
    one = to_frame_list(torch.from_numpy(batch[0]))  # (H, W, C): one image, not H frames
    assert len(one) == 1 and one[0].shape == (5, 7, 3)
    assert (to_rgb_uint8(torch.from_numpy(batch[0]).to(torch.bfloat16)).astype(int)
            - to_rgb_uint8(batch[0]).astype(int)).max() <= 1
    uint8 = torch.from_numpy((batch[0] * 255).astype(np.uint8))
    assert (to_rgb_uint8(uint8) == (batch[0] * 255).astype(np.uint8)).all()


def test_channels_first_tensors_are_refused_not_misread():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=r"channels-first .*\(3, 64, 48\).*permute\(1, 2, 0\)"):
        to_rgb_uint8(torch.zeros(3, 64, 48))
    with pytest.raises(ValueError, match=r"channels-first .*\(N, C, H, W\).*permute\(0, 2, 3, 1\)"):
        to_frame_list(torch.zeros(2, 3, 64, 48))
    with pytest.raises(ValueError, match="channels-first"):
        to_frame_list(torch.zeros(3, 64, 48))
    with pytest.raises(ValueError, match="batch tensor"):
        to_rgb_uint8(torch.zeros(1, 64, 48, 3))


def test_numpy_frames_keep_their_rule():
    assert len(to_frame_list(np.zeros((4, 6, 3), np.uint8))) == 1
    assert len(to_frame_list(np.zeros((2, 4, 6, 3), np.uint8))) == 2
    assert len(to_frame_list([np.zeros((4, 6), np.uint8)] * 3)) == 3
