"""Letterbox resize as YOLO does it: keep the aspect, pad with grey 114 to a square; map boxes back."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114


@dataclass(frozen=True, slots=True)
class LetterboxInfo:
    """How an original frame was fitted into the model input: ``x_model = x_orig * gain_x + pad_x``.

    ``gain`` is the aspect-keeping scale; the frame was resized to ``round(w * gain)`` x ``round(h * gain)``,
    so the exact per-axis scales (``gain_x``, ``gain_y``) differ from it by the rounding. Boxes are mapped
    back with those, as ultralytics' ``scale_boxes`` does. ``new_w``/``new_h`` default to that rounding.
    """

    gain: float
    pad_x: int
    pad_y: int
    orig_w: int
    orig_h: int
    new_w: int | None = None
    new_h: int | None = None

    @property
    def gain_x(self) -> float:
        return (self.new_w or max(round(self.orig_w * self.gain), 1)) / self.orig_w

    @property
    def gain_y(self) -> float:
        return (self.new_h or max(round(self.orig_h * self.gain), 1)) / self.orig_h


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, LetterboxInfo]:
    """Resize ``image`` (h, w, c) into a ``size`` x ``size`` canvas, centred, padded with 114.

    The resize writes straight into its place on the grey canvas (no separate border copy).
    """
    h, w = image.shape[:2]
    gain = min(size / h, size / w)
    new_w, new_h = max(round(w * gain), 1), max(round(h * gain), 1)  # ultralytics rounds each side
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    top, left = round(dh - 0.1), round(dw - 0.1)  # bottom/right: round(d + 0.1), the rest of the canvas
    out = np.full((size, size, image.shape[2]), PAD_VALUE, np.uint8)
    roi = out[top : top + new_h, left : left + new_w]
    if (w, h) != (new_w, new_h):
        cv2.resize(image, (new_w, new_h), dst=roi, interpolation=cv2.INTER_LINEAR)
    else:
        roi[...] = image
    return out, LetterboxInfo(gain, left, top, w, h, new_w, new_h)


def to_tensor(boxed_bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 HWC -> RGB float32 NCHW in [0, 1] (one OpenCV call)."""
    return cv2.dnn.blobFromImage(boxed_bgr, 1 / 255.0, swapRB=True)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A frame already letterboxed into a ``size`` x ``size`` input tensor (done by the capture thread, so
    the inference thread only runs the model); ``info`` maps the boxes back."""

    size: int
    tensor: np.ndarray
    info: LetterboxInfo


def prepare(image: np.ndarray, size: int) -> Prepared:
    boxed, info = letterbox(image, size)
    return Prepared(size, to_tensor(boxed), info)


def unletterbox(xyxy: np.ndarray, info: LetterboxInfo) -> np.ndarray:
    """Map (n, 4) x1,y1,x2,y2 boxes from model-input pixels back to original pixels, clipped to the frame."""
    out = xyxy.astype(np.float64, copy=True)
    xs, ys = out[:, 0::2], out[:, 1::2]  # views: x1, x2 and y1, y2, updated in place
    xs -= info.pad_x
    xs /= info.gain_x
    ys -= info.pad_y
    ys /= info.gain_y
    np.clip(xs, 0, info.orig_w, out=xs)
    np.clip(ys, 0, info.orig_h, out=ys)
    return out
