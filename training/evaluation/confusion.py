"""The class confusion matrix: rows are the true class, columns the predicted class, background last in both.

Matching as Ultralytics' ``ConfusionMatrix``: in each image, predictions at or above ``conf`` and true boxes
are paired when their IoU exceeds ``iou`` (0.45), class-agnostically, greedily by IoU (each box in at most one
pair). A pair counts in [true class, predicted class]; an unpaired true box in [true class, background] (a
miss), an unpaired prediction in [background, predicted class] (a false alarm).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BACKGROUND = "background"
MATRIX_CONF = 0.25  # the edge agent's default confidence threshold
MATRIX_IOU = 0.45  # Ultralytics' ConfusionMatrix default


@dataclass(frozen=True)
class ConfusionMatrix:
    names: tuple[str, ...]  # the model's classes; ``labels`` adds background
    counts: tuple[tuple[int, ...], ...]  # (nc + 1) x (nc + 1): [true][predicted]
    conf: float
    iou: float

    @property
    def labels(self) -> tuple[str, ...]:
        return (*self.names, BACKGROUND)

    def as_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "rows": "true",
            "columns": "predicted",
            "conf": self.conf,
            "iou": self.iou,
            "matrix": [list(row) for row in self.counts],
        }


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (n, 4) with every box of ``b`` (m, 4), both x1 y1 x2 y2: (n, m)."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def match(truth: np.ndarray, preds: np.ndarray, iou: float) -> list[tuple[int, int]]:
    """Pairs (truth index, prediction index) with IoU > ``iou``, greedily by IoU, each box at most once."""
    if not len(truth) or not len(preds):
        return []
    ious = box_iou(truth, preds)
    ti, pi = np.nonzero(ious > iou)
    order = np.argsort(-ious[ti, pi], kind="stable")
    used_t: set[int] = set()
    used_p: set[int] = set()
    pairs = []
    for t, p in zip(ti[order].tolist(), pi[order].tolist(), strict=True):
        if t not in used_t and p not in used_p:
            used_t.add(t)
            used_p.add(p)
            pairs.append((t, p))
    return pairs


def add_image(counts: np.ndarray, truth: np.ndarray, preds: np.ndarray, *, conf: float, iou: float) -> None:
    """Add one image to ``counts`` ((nc+1, nc+1), background last).

    ``truth``: (n, 5) class, x1, y1, x2, y2; ``preds``: (m, 6) class, confidence, x1, y1, x2, y2 (pixels).
    """
    bg = counts.shape[0] - 1
    truth = np.asarray(truth, float).reshape(-1, 5)
    preds = np.asarray(preds, float).reshape(-1, 6)
    preds = preds[preds[:, 1] >= conf]
    pairs = match(truth[:, 1:], preds[:, 2:], iou)
    for t, p in pairs:
        counts[int(truth[t, 0]), int(preds[p, 0])] += 1
    paired_t, paired_p = {t for t, _ in pairs}, {p for _, p in pairs}
    for t in range(len(truth)):
        if t not in paired_t:
            counts[int(truth[t, 0]), bg] += 1
    for p in range(len(preds)):
        if p not in paired_p:
            counts[bg, int(preds[p, 0])] += 1


def confusion_matrix(
    names: Sequence[str],
    images: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    conf: float = MATRIX_CONF,
    iou: float = MATRIX_IOU,
) -> ConfusionMatrix:
    """The matrix of ``images``: (truth, predictions) per image, as :func:`add_image` takes them."""
    counts = np.zeros((len(names) + 1, len(names) + 1), dtype=np.int64)
    for truth, preds in images:
        add_image(counts, truth, preds, conf=conf, iou=iou)
    return ConfusionMatrix(
        tuple(names), tuple(tuple(int(v) for v in row) for row in counts.tolist()), conf, iou
    )
