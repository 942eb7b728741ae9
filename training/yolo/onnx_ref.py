"""Reference ONNX inference: the exact pre/post-processing contract the edge agent implements.

Input: BGR frame -> letterbox to ``imgsz`` x ``imgsz`` (aspect kept, centred, pad value 114, cv2 INTER_LINEAR)
-> RGB -> float32 / 255 -> NCHW (1, 3, imgsz, imgsz).
Output: (1, 4 + nc, N): rows 0-3 are cx, cy, w, h in letterboxed pixels, rows 4.. the per-class scores
(sigmoid already applied). No NMS inside the graph: per-class NMS (IoU 0.7 by default) is done here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

PAD_VALUE = 114


@dataclass(frozen=True, slots=True)
class Letterbox:
    ratio: float
    pad_x: int
    pad_y: int
    width: int  # original frame size
    height: int


@dataclass(frozen=True, slots=True)
class RefDetection:
    class_id: int
    confidence: float
    x1: float
    y1: float
    x2: float
    y2: float


def letterbox(image_bgr: np.ndarray, imgsz: int) -> tuple[np.ndarray, Letterbox]:
    """Return the (1, 3, imgsz, imgsz) float32 input tensor and the geometry to map boxes back."""
    h, w = image_bgr.shape[:2]
    r = min(imgsz / h, imgsz / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = (imgsz - new_w) / 2, (imgsz - new_h) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    img = (
        image_bgr
        if (new_w, new_h) == (w, h)
        else cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    )
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    tensor = np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32)[None] / 255.0
    return tensor, Letterbox(ratio=r, pad_x=left, pad_y=top, width=w, height=h)


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    order = scores.argsort()[::-1]
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        overlap = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[overlap <= iou]
    return keep


def decode(
    output: np.ndarray, lb: Letterbox, *, conf: float = 0.25, iou: float = 0.7, max_det: int = 300
) -> list[RefDetection]:
    """Turn the raw (1, 4+nc, N) output into detections in original-frame pixels (per-class NMS)."""
    pred = np.asarray(output)[0].T  # (N, 4+nc)
    scores_all = pred[:, 4:]
    cls = scores_all.argmax(1)
    scores = scores_all[np.arange(len(pred)), cls]
    mask = scores > conf
    pred, cls, scores = pred[mask], cls[mask], scores[mask]
    if not len(pred):
        return []
    cx, cy, bw, bh = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
    offset = boxes + cls[:, None] * 7680.0  # class-aware NMS in one pass
    keep = _nms(offset, scores, iou)[:max_det]
    boxes = boxes[keep]
    boxes[:, [0, 2]] = ((boxes[:, [0, 2]] - lb.pad_x) / lb.ratio).clip(0, lb.width)
    boxes[:, [1, 3]] = ((boxes[:, [1, 3]] - lb.pad_y) / lb.ratio).clip(0, lb.height)
    return [
        RefDetection(int(cls[k]), float(scores[k]), *(float(v) for v in box))
        for k, box in zip(keep, boxes, strict=True)
    ]


class OnnxDetector:
    """Run an exported model with onnxruntime (CPU) using the reference pre/post-processing."""

    def __init__(self, path: Path, imgsz: int) -> None:
        import onnxruntime as ort

        self.imgsz = imgsz
        self.session: Any = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def raw(self, tensor: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input_name: tensor})[0])

    def __call__(self, image_bgr: np.ndarray, *, conf: float = 0.25, iou: float = 0.7) -> list[RefDetection]:
        tensor, lb = letterbox(image_bgr, self.imgsz)
        return decode(self.raw(tensor), lb, conf=conf, iou=iou)
