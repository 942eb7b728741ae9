"""Defect painters of the metal plate (scratch, dent, stain, crack, missing_hole) and what painters share.

A painter draws one defect into the plate (plate pixel coordinates) and returns its exact mask: the set of
plate pixels it changed, so ground truth follows the pixels, not the intent. A painter knows nothing of
class names: the class id comes in the request (the line's class map decides it). The registry is
``factoryloop.sim.painters``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


@dataclass(frozen=True)
class PaintedDefect:
    """A defect drawn on the plate: ROI origin (plate pixels) and uint8 0/255 mask of the changed pixels."""

    class_id: int
    x0: int
    y0: int
    mask: np.ndarray

    @property
    def rect(self) -> Rect:
        h, w = self.mask.shape
        return self.x0, self.y0, self.x0 + w, self.y0 + h


@dataclass(frozen=True)
class PaintRequest:
    rng: np.random.Generator
    plate: np.ndarray  # writable BGR uint8, modified in place
    plain: np.ndarray  # the same plate without holes (read-only)
    holes: list[tuple[int, int, int]]
    size_px: float
    contrast: float
    taken: list[Rect]
    class_id: int
    line_px: int | None = None  # line painters (scratch, crack): thickness; None: from the plate width


Painter = Callable[[PaintRequest], PaintedDefect | None]
Shape = Callable[[PaintRequest], tuple[np.ndarray, np.ndarray]]


def _shape_scratch(req: PaintRequest) -> tuple[np.ndarray, np.ndarray]:
    rng, length = req.rng, max(8.0, req.size_px)
    thick = req.line_px or max(1, round(req.plate.shape[1] / 420))
    angle = rng.uniform(0, np.pi)
    n = int(rng.integers(2, 5))
    t = np.linspace(-0.5, 0.5, n + 1) * length
    wobble = rng.normal(0, length * 0.04, n + 1)
    pts = np.stack(
        [t * np.cos(angle) - wobble * np.sin(angle), t * np.sin(angle) + wobble * np.cos(angle)], 1
    )
    mask = _poly_mask(pts, thick)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return mask, np.full(3, sign * req.contrast, dtype=np.float32)


def _shape_crack(req: PaintRequest) -> tuple[np.ndarray, np.ndarray]:
    rng, length = req.rng, max(10.0, req.size_px)
    thick = req.line_px or max(1, round(req.plate.shape[1] / 360))
    steps = int(rng.integers(10, 18))
    heading = rng.uniform(0, 2 * np.pi)
    turns = np.cumsum(rng.normal(0, 0.45, steps))
    seg = length / steps
    pts = np.cumsum(np.stack([np.cos(heading + turns), np.sin(heading + turns)], 1) * seg, 0)
    paths = [np.vstack([[0.0, 0.0], pts])]
    if rng.random() < 0.6:  # a branch from the middle
        k = steps // 2
        bturns = heading + turns[k] + rng.choice([-1, 1]) * 0.8 + np.cumsum(rng.normal(0, 0.4, steps // 2))
        branch = pts[k] + np.cumsum(np.stack([np.cos(bturns), np.sin(bturns)], 1) * seg * 0.8, 0)
        paths.append(np.vstack([pts[k], branch]))
    mask = _poly_mask(np.vstack(paths), thick, paths=paths)
    return mask, np.full(3, -req.contrast, dtype=np.float32)


def _shape_dent(req: PaintRequest) -> tuple[np.ndarray, np.ndarray]:
    rng = req.rng
    rx = max(3.0, req.size_px / 2)
    ry = rx * rng.uniform(0.6, 1.0)
    pad = 2
    h, w = int(2 * ry) + 2 * pad + 1, int(2 * rx) + 2 * pad + 1
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2, h // 2), (int(rx), int(ry)), float(rng.uniform(0, 180)), 0, 360, 255, -1)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xs - w // 2) / rx) ** 2 + ((ys - h // 2) / ry) ** 2)
    depth = -req.contrast * (0.55 + 0.45 * np.clip(1.0 - r, 0, 1))
    return mask, np.repeat(depth[..., None], 3, axis=2)


def _shape_stain(req: PaintRequest) -> tuple[np.ndarray, np.ndarray]:
    rng = req.rng
    radius = max(4.0, req.size_px / 2)
    size = int(2.6 * radius) + 1
    blob: np.ndarray = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(3, 7))):
        c = rng.normal(size / 2, radius * 0.35, 2)
        cv2.circle(blob, (int(c[0]), int(c[1])), int(radius * rng.uniform(0.35, 0.7)), 1.0, -1)
    blob = cv2.GaussianBlur(blob, (0, 0), max(1.0, radius * 0.2))
    mask = np.where(blob > 0.35, 255, 0).astype(np.uint8)
    tint = np.asarray([-1.0, -0.7, -0.3], dtype=np.float32) * req.contrast
    return mask, tint


def _poly_mask(pts: np.ndarray, thick: int, paths: list[np.ndarray] | None = None) -> np.ndarray:
    pad = thick + 2
    lo = np.floor(pts.min(0)) - pad
    size = (np.ceil(pts.max(0)) - lo + pad + 1).astype(int)
    mask = np.zeros((int(size[1]), int(size[0])), np.uint8)
    for path in paths or [pts]:
        p = np.round(path - lo).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(mask, [p], False, 255, thick, cv2.LINE_8)
    return mask


def overlaps(rect: Rect, taken: list[Rect], margin: int = 3) -> bool:
    x0, y0, x1, y1 = rect
    return any(
        x0 < b[2] + margin and b[0] < x1 + margin and y0 < b[3] + margin and b[1] < y1 + margin for b in taken
    )


def _place(req: PaintRequest, mask: np.ndarray) -> tuple[int, int] | None:
    ph, pw = req.plate.shape[:2]
    h, w = mask.shape
    margin = max(4, pw // 40)
    if w + 2 * margin >= pw or h + 2 * margin >= ph:
        return None
    for _ in range(6):
        x0 = int(req.rng.integers(margin, pw - margin - w))
        y0 = int(req.rng.integers(margin, ph - margin - h))
        if not overlaps((x0, y0, x0 + w, y0 + h), req.taken):
            return x0, y0
    return None


def paint_shape(shape: Shape) -> Painter:
    """A painter from a shape (mask, delta): placed away from the edges and other defects, then added."""

    def paint(req: PaintRequest) -> PaintedDefect | None:
        mask, delta = shape(req)
        where = _place(req, mask)
        if where is None or not mask.any():
            return None
        x0, y0 = where
        h, w = mask.shape
        roi = req.plate[y0 : y0 + h, x0 : x0 + w]
        sel = mask > 0
        d = delta[sel] if delta.ndim == 3 else delta
        roi[sel] = np.clip(roi[sel].astype(np.float32) + d, 0, 255).astype(np.uint8)
        return PaintedDefect(req.class_id, x0, y0, mask)

    return paint


def paint_missing_hole(req: PaintRequest) -> PaintedDefect | None:
    """Fill one drilled hole with plain plate surface: the feature is missing."""
    free = [
        h for h in req.holes if not overlaps((h[0] - h[2], h[1] - h[2], h[0] + h[2], h[1] + h[2]), req.taken)
    ]
    if not free:
        return None
    x, y, r = free[int(req.rng.integers(len(free)))]
    rr = r + max(1, r // 4) + 1
    x0, y0 = max(0, x - rr), max(0, y - rr)
    x1, y1 = min(req.plate.shape[1], x + rr + 1), min(req.plate.shape[0], y + rr + 1)
    roi, plain = req.plate[y0:y1, x0:x1], req.plain[y0:y1, x0:x1]
    mask = np.where(np.any(roi != plain, axis=2), 255, 0).astype(np.uint8)
    if not mask.any():
        return None
    roi[...] = plain
    return PaintedDefect(req.class_id, x0, y0, mask)


scratch = paint_shape(_shape_scratch)
dent = paint_shape(_shape_dent)
stain = paint_shape(_shape_stain)
crack = paint_shape(_shape_crack)
