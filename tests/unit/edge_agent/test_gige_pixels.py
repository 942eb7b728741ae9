"""GenICam pixel formats to BGR: a known BGR scene is laid out in each camera format and converted back."""

from __future__ import annotations

import re
from typing import get_args

import cv2
import numpy as np
import pytest

from edge_agent.config.sources import GigEPixelFormat
from edge_agent.sources.genicam_pixels import PIXEL_FORMATS, frame_bytes, to_bgr

H, W = 8, 12
COLOR_BGR = (40, 120, 210)  # a uniform orange scene: every format must bring these values back


def scene() -> np.ndarray:
    return np.full((H, W, 3), COLOR_BGR, np.uint8)


def widen(values: np.ndarray, bits: int) -> bytes:
    """8-bit values as unpacked little-endian uint16 with ``bits`` significant bits (low bits set to 1s)."""
    wide = (values.astype("<u2") << (bits - 8)) | ((1 << (bits - 8)) - 1)
    return wide.astype("<u2").tobytes()


def mosaic(bgr: np.ndarray, pattern: str) -> np.ndarray:
    """The raw Bayer image of ``bgr`` for a sensor whose first row starts with ``pattern`` (e.g. RG)."""
    index = {"B": 0, "G": 1, "R": 2}
    layout = {"RG": "RGGB", "GR": "GRBG", "GB": "GBRG", "BG": "BGGR"}[pattern]
    raw = np.empty(bgr.shape[:2], np.uint8)
    for k, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        raw[dy::2, dx::2] = bgr[dy::2, dx::2, index[layout[k]]]
    return raw


def yuv422(bgr: np.ndarray, order: str) -> bytes:
    """YUV 4:2:2 as cameras send it: BT.601 video range (Y 16..235), U and V shared by two pixels."""
    b, g, r = (bgr[..., i].astype(float) for i in range(3))
    y = np.rint(16 + 0.257 * r + 0.504 * g + 0.098 * b).astype(np.uint8)
    u = np.rint(128 - 0.148 * r - 0.291 * g + 0.439 * b).astype(np.uint8)[:, ::2]
    v = np.rint(128 + 0.439 * r - 0.368 * g - 0.071 * b).astype(np.uint8)[:, ::2]
    out = np.empty((bgr.shape[0], bgr.shape[1] * 2), np.uint8)
    if order == "YUYV":
        out[:, 0::4], out[:, 1::4], out[:, 2::4], out[:, 3::4] = y[:, 0::2], u, y[:, 1::2], v
    else:  # UYVY
        out[:, 0::4], out[:, 1::4], out[:, 2::4], out[:, 3::4] = u, y[:, 0::2], v, y[:, 1::2]
    return out.tobytes()


def camera_bytes(pixel_format: str) -> tuple[bytes, tuple[int, int, int]]:
    """What a camera sends for :func:`scene` in ``pixel_format``, and the BGR expected back."""
    bgr = scene()
    gray = int(cv2.cvtColor(bgr[:1, :1], cv2.COLOR_BGR2GRAY)[0, 0])
    bits = int(re.findall(r"\d+", pixel_format.removesuffix("_UYVY"))[-1])
    if pixel_format.startswith("Mono"):
        plane = np.full((H, W), gray, np.uint8)
        return (plane.tobytes() if bits == 8 else widen(plane, bits)), (gray, gray, gray)
    if pixel_format.startswith("Bayer"):
        raw = mosaic(bgr, pixel_format[5:7])
        return (raw.tobytes() if bits == 8 else widen(raw, bits)), COLOR_BGR
    if pixel_format.startswith("YUV422"):
        return yuv422(bgr, "UYVY" if pixel_format.endswith("UYVY") else "YUYV"), COLOR_BGR
    channels = {"RGB8": [2, 1, 0], "BGR8": [0, 1, 2], "RGBa8": [2, 1, 0, 3], "BGRa8": [0, 1, 2, 3]}
    with_alpha = np.concatenate([bgr, np.full((H, W, 1), 255, np.uint8)], axis=2)
    return with_alpha[..., channels[pixel_format]].tobytes(), COLOR_BGR


def test_every_config_pixel_format_has_a_conversion_and_back() -> None:
    assert set(get_args(GigEPixelFormat)) == set(PIXEL_FORMATS)


@pytest.mark.parametrize("pixel_format", sorted(PIXEL_FORMATS))
def test_each_format_converts_to_the_scene_in_bgr(pixel_format: str) -> None:
    data, expected = camera_bytes(pixel_format)
    assert len(data) == frame_bytes(pixel_format, W, H)
    image = to_bgr(data, pixel_format, W, H)
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    inner = image[2:-2, 2:-2].reshape(-1, 3).astype(int)  # Bayer borders are interpolated from fewer pixels
    assert np.abs(inner - np.array(expected)).max() <= 2, (pixel_format, inner[0])


@pytest.mark.parametrize(
    ("pixel_format", "wrong"),
    [("BayerRG8", "BayerBG8"), ("BayerGR8", "BayerGB8"), ("RGB8", "BGR8")],
)
def test_a_swapped_layout_gives_other_colours(pixel_format: str, wrong: str) -> None:
    """The check above can fail: the same bytes read in the mirrored layout are not the scene."""
    data, expected = camera_bytes(pixel_format)
    inner = to_bgr(data, wrong, W, H)[2:-2, 2:-2].reshape(-1, 3).astype(int)
    assert np.abs(inner - np.array(expected)).max() > 50


@pytest.mark.parametrize(("bits", "value", "expected"), [(10, 1023, 255), (12, 2048, 128), (16, 0x0100, 1)])
def test_wide_values_are_scaled_to_8_bits(bits: int, value: int, expected: int) -> None:
    data = np.full((H, W), value, "<u2").tobytes()
    assert (to_bgr(data, f"Mono{bits}", W, H) == expected).all()


def test_padding_after_the_image_is_ignored() -> None:
    data, _ = camera_bytes("Mono8")
    image = to_bgr(data + b"\xff" * 64, "Mono8", W, H)
    assert (image == to_bgr(data, "Mono8", W, H)).all()


@pytest.mark.parametrize("pixel_format", ["Mono8", "Mono12", "RGB8", "YUV422_8"])
def test_a_truncated_buffer_is_a_value_error(pixel_format: str) -> None:
    data, _ = camera_bytes(pixel_format)
    with pytest.raises(ValueError, match=f"{pixel_format} {W}x{H} needs {len(data)} bytes"):
        to_bgr(data[:-2], pixel_format, W, H)


def test_an_unknown_format_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        to_bgr(b"\0" * (W * H), "Mono12p", W, H)
