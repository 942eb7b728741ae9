"""Decode YOLO ONNX outputs into boxes in original-frame pixels.

Two layouts: the classic head ``(1, 4 + nc, N)`` (cx, cy, w, h in letterboxed pixels, then one score per
class; NMS needed) and the end-to-end head ``(1, N, 6)`` (x1, y1, x2, y2, score, class; already NMS-free).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_agent.detect.letterbox import LetterboxInfo, unletterbox
from edge_agent.errors import DetectorError


@dataclass(frozen=True, slots=True)
class RawDetections:
    """Parallel arrays: ``xyxy`` (n, 4) original pixels, ``scores`` (n,), ``class_ids`` (n,)."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def empty() -> RawDetections:
    return RawDetections(np.zeros((0, 4)), np.zeros(0, np.float32), np.zeros(0, np.int64))


def layout_of(shape: tuple[int, ...], nc: int | None) -> str:
    """``"yolo"`` for (1, 4+nc, N), ``"e2e"`` for (1, N, 6); :class:`DetectorError` otherwise."""
    if len(shape) != 3 or shape[0] != 1:
        raise DetectorError(f"unsupported output shape {shape}: expected (1, 4+nc, N) or (1, N, 6)")
    if nc is not None and shape[1] == 4 + nc:
        return "yolo"
    if shape[2] == 6 and (nc is None or shape[1] != 4 + nc):
        return "e2e"
    if nc is None and shape[1] > 4 and shape[2] > shape[1]:
        return "yolo"
    raise DetectorError(f"output shape {shape} does not match {nc} classes as (1, 4+nc, N) or (1, N, 6)")


def decode_yolo(
    output: np.ndarray, info: LetterboxInfo, conf: float, iou: float, max_det: int
) -> RawDetections:
    pred = output[0]  # (4 + nc, N)
    best = pred[4:].max(axis=0)  # the best class score of each anchor
    cand = np.flatnonzero(best > conf)
    if not cand.size:
        return empty()
    sub = pred[:, cand]  # only the candidates from here on (a handful out of thousands)
    class_ids, scores = sub[4:].argmax(axis=0), best[cand]
    xywh = sub[:4].T.copy()  # cx, cy, w, h -> x, y, w, h (float32, as the model gives them)
    xywh[:, :2] -= xywh[:, 2:] / 2
    picked = cv2.dnn.NMSBoxesBatched(
        xywh.astype(np.float64).tolist(), scores.astype(np.float64).tolist(), class_ids.tolist(), conf, iou
    )
    idx = np.asarray(picked, dtype=np.int64).reshape(-1)
    idx = idx[np.argsort(-scores[idx], kind="stable")][:max_det]
    xyxy = np.concatenate([xywh[idx, :2], xywh[idx, :2] + xywh[idx, 2:]], axis=1)
    return RawDetections(
        unletterbox(xyxy, info), scores[idx].astype(np.float32), class_ids[idx].astype(np.int64)
    )


def decode_e2e(output: np.ndarray, info: LetterboxInfo, conf: float, max_det: int) -> RawDetections:
    pred = output[0]  # (N, 6)
    pred = pred[pred[:, 4] > conf]
    pred = pred[np.argsort(-pred[:, 4], kind="stable")][:max_det]
    if not len(pred):
        return empty()
    return RawDetections(
        unletterbox(pred[:, :4], info), pred[:, 4].astype(np.float32), pred[:, 5].astype(np.int64)
    )


def decode(
    output: np.ndarray, info: LetterboxInfo, nc: int | None, conf: float, iou: float, max_det: int
) -> RawDetections:
    if not np.isfinite(output).all():
        raise DetectorError("model output contains NaN or infinite values")
    if layout_of(tuple(output.shape), nc) == "yolo":
        return decode_yolo(output, info, conf, iou, max_det)
    return decode_e2e(output, info, conf, max_det)
