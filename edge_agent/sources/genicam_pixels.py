"""GenICam (PFNC) pixel formats to the pipeline's BGR uint8: Mono, Bayer, RGB/BGR(a) and YUV 4:2:2 buffers.

Multi-byte formats are the unpacked ones (one little-endian uint16 per pixel, the value in the low ``bits``);
they are scaled to 8 bits by a right shift. Packed formats (Mono12p, Mono12Packed, ...) are not supported: ask
the camera for an unpacked one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class PixelSpec:
    """How a PFNC format lies in the buffer, and the OpenCV conversion to BGR (``None``: already BGR)."""

    channels: int  # values per pixel in the buffer (YUV 4:2:2: 2 bytes per pixel)
    bits: int  # significant bits of each value (8: one byte; more: uint16 little-endian)
    code: int | None


def _bayer(pattern: str) -> int:
    # The 4-letter names are OpenCV's unambiguous ones: the first two letters are the first row of the sensor,
    # as in GenICam's BayerRG (R G / G B). The 2-letter OpenCV names are shifted by one pixel: not used.
    return int(getattr(cv2, f"COLOR_Bayer{pattern}2BGR"))


_BAYER = {"RG": "RGGB", "GR": "GRBG", "GB": "GBRG", "BG": "BGGR"}

PIXEL_FORMATS: dict[str, PixelSpec] = {
    "Mono8": PixelSpec(1, 8, cv2.COLOR_GRAY2BGR),
    "Mono10": PixelSpec(1, 10, cv2.COLOR_GRAY2BGR),
    "Mono12": PixelSpec(1, 12, cv2.COLOR_GRAY2BGR),
    "Mono14": PixelSpec(1, 14, cv2.COLOR_GRAY2BGR),
    "Mono16": PixelSpec(1, 16, cv2.COLOR_GRAY2BGR),
    **{
        f"Bayer{name}{bits}": PixelSpec(1, bits, _bayer(pattern))
        for name, pattern in _BAYER.items()
        for bits in (8, 10, 12, 16)
    },
    "RGB8": PixelSpec(3, 8, cv2.COLOR_RGB2BGR),
    "BGR8": PixelSpec(3, 8, None),
    "RGBa8": PixelSpec(4, 8, cv2.COLOR_RGBA2BGR),
    "BGRa8": PixelSpec(4, 8, cv2.COLOR_BGRA2BGR),
    "YUV422_8": PixelSpec(2, 8, cv2.COLOR_YUV2BGR_YUYV),
    "YUV422_8_UYVY": PixelSpec(2, 8, cv2.COLOR_YUV2BGR_UYVY),
}


def frame_bytes(pixel_format: str, width: int, height: int) -> int:
    """Bytes of one ``width`` x ``height`` image in ``pixel_format`` (the buffer may hold more: padding)."""
    spec = PIXEL_FORMATS[pixel_format]
    return width * height * spec.channels * (1 if spec.bits == 8 else 2)


def to_bgr(data: bytes | np.ndarray, pixel_format: str, width: int, height: int) -> np.ndarray:
    """The BGR uint8 (height, width, 3) image of a camera buffer.

    ``KeyError`` for a format not in :data:`PIXEL_FORMATS`, ``ValueError`` when ``data`` is shorter than one
    image of that size (a truncated buffer). Bytes past the image (padding) are ignored.
    """
    spec = PIXEL_FORMATS[pixel_format]
    need = frame_bytes(pixel_format, width, height)
    flat = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes | bytearray) else data.reshape(-1)
    if flat.size < need:
        raise ValueError(f"{pixel_format} {width}x{height} needs {need} bytes, the buffer holds {flat.size}")
    flat = flat[:need]
    if spec.bits > 8:  # unpacked: one little-endian uint16 per value, the value in its low `bits`
        flat = np.minimum(flat.view("<u2") >> (spec.bits - 8), 255).astype(np.uint8)
    image = flat.reshape((height, width, spec.channels) if spec.channels > 1 else (height, width))
    if spec.code is None:
        return np.ascontiguousarray(image)
    return cv2.cvtColor(image, spec.code)
