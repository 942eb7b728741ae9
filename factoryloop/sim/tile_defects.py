"""Defect painters of a glazed ceramic tile: chip (a piece missing at the edge), bubble, pinhole.

Like every painter they return the exact mask of the plate pixels they changed (see defects.py).
"""

from __future__ import annotations

import cv2
import numpy as np

from factoryloop.sim.defects import PaintedDefect, PaintRequest, overlaps, paint_shape


def paint_chip(req: PaintRequest) -> PaintedDefect | None:
    """A piece broken off the edge or a corner: a jagged notch darkened like the belt showing through."""
    rng, plate = req.rng, req.plate
    ph, pw = plate.shape[:2]
    radius = max(4.0, req.size_px / 2)
    for _ in range(6):
        if rng.random() < 0.4:  # a corner
            cx, cy = float(rng.choice([0, pw - 1])), float(rng.choice([0, ph - 1]))
        else:
            side, t = int(rng.integers(4)), rng.uniform(0.15, 0.85)
            cx, cy = [(t * pw, 0.0), (pw - 1.0, t * ph), (t * pw, ph - 1.0), (0.0, t * ph)][side]
        n = int(rng.integers(7, 11))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = radius * rng.uniform(0.65, 1.0, n)
        reach = int(np.ceil(radius)) + 1
        x0, y0 = max(0, int(cx) - reach), max(0, int(cy) - reach)
        x1, y1 = min(pw, int(cx) + reach + 1), min(ph, int(cy) + reach + 1)
        if x1 <= x0 or y1 <= y0 or overlaps((x0, y0, x1, y1), req.taken):
            continue
        pts = np.stack([cx + radii * np.cos(angles) - x0, cy + radii * np.sin(angles) - y0], 1)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32).reshape(-1, 1, 2)], 255)
        if not mask.any():
            continue
        roi, sel = plate[y0:y1, x0:x1], mask > 0
        roi[sel] = np.clip(roi[sel].astype(np.float32) - req.contrast, 0, 255).astype(np.uint8)
        return PaintedDefect(req.class_id, x0, y0, mask)
    return None


def _shape_bubble(req: PaintRequest) -> tuple[np.ndarray, np.ndarray]:
    """A glaze bubble: a bright ring around a slightly shaded centre."""
    r = max(3.0, req.size_px / 2)
    thick = max(1.0, r / 3.5)
    size = int(2 * r) + 5
    c = (size - 1) / 2.0
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    d = np.sqrt((xs - c) ** 2 + (ys - c) ** 2)
    mask = np.where(d <= r, 255, 0).astype(np.uint8)
    ring = np.clip(1.0 - np.abs(d - (r - thick / 2)) / thick, 0.0, 1.0)
    delta = req.contrast * (ring - 0.3 * (1.0 - ring) * (d < r - thick))
    return mask, np.repeat(delta[..., None].astype(np.float32), 3, axis=2)


def _shape_pinhole(req: PaintRequest) -> tuple[np.ndarray, np.ndarray]:
    """A pinhole: a tiny dark dot, darkest in the middle."""
    r = max(1.5, req.size_px / 2)
    size = int(2 * r) + 3
    c = (size - 1) / 2.0
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    d = np.sqrt((xs - c) ** 2 + (ys - c) ** 2) / r
    mask = np.where(d <= 1.0, 255, 0).astype(np.uint8)
    depth = -req.contrast * (0.7 + 0.3 * np.clip(1.0 - d, 0.0, 1.0))
    return mask, np.repeat(depth[..., None].astype(np.float32), 3, axis=2)


bubble = paint_shape(_shape_bubble)
pinhole = paint_shape(_shape_pinhole)
chip = paint_chip
