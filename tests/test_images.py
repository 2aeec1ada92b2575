import numpy as np
import pytest

from dwpose_core.images import read_image, to_rgb_uint8, write_image


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
