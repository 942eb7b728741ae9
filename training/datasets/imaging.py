"""Image validation and encoding helpers: every image is decoded once before anything is stored."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from training.datasets.errors import CorruptFileError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_JPEG_SOI, _JPEG_EOI = b"\xff\xd8", b"\xff\xd9"
_PNG_SIG, _PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND"


def is_jpeg(data: bytes) -> bool:
    return data[:2] == _JPEG_SOI


def decode(data: bytes, origin: str) -> np.ndarray:
    """Decode image bytes to BGR; :class:`CorruptFileError` naming ``origin`` when truncated or invalid."""
    if not data:
        raise CorruptFileError(f"{origin}: empty image file")
    if is_jpeg(data) and _JPEG_EOI not in data[-64:]:
        raise CorruptFileError(f"{origin}: truncated JPEG (no end-of-image marker)")
    if data[:8] == _PNG_SIG and _PNG_END not in data[-16:]:
        raise CorruptFileError(f"{origin}: truncated PNG (no IEND chunk)")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise CorruptFileError(f"{origin}: not a decodable image")
    return img


def read_image(path: Path) -> tuple[bytes, int, int]:
    """Validated JPEG bytes and size of an image file (non-JPEG input is re-encoded as JPEG quality 95)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorruptFileError(f"{path}: cannot read image: {exc}") from exc
    img = decode(data, str(path))
    if not is_jpeg(data):
        data = to_jpeg(img)
    return data, int(img.shape[1]), int(img.shape[0])


def to_jpeg(img: np.ndarray, quality: int = 95) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise CorruptFileError("JPEG encoding failed")
    return buf.tobytes()


def list_images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
