"""Precomputed, cached images: plate textures, conveyor belt, lighting gain maps and a sensor-noise bank.

They depend only on their arguments (and the seed): frames reuse them without losing determinism.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from factoryloop.sim.config import ProductConfig

NOISE_PAD = 64
BELT_PERIOD = 48


def generator(seed: int, *keys: int) -> np.random.Generator:
    """A generator that depends only on ``(seed, *keys)``: random access to any frame."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *keys])))


def plate_size(product: ProductConfig, width: int, height: int) -> tuple[int, int]:
    pw = round(product.width_frac * width)
    ph = round(pw * product.aspect)
    ph = min(ph, int(height * 0.85))
    return pw, ph


def hole_geometry(product: ProductConfig, pw: int, ph: int) -> list[tuple[int, int, int]]:
    """Hole centres and radius (x, y, r) in plate pixels."""
    r = max(3, round(product.hole_radius_frac * pw))
    return [(round(fx * pw), round(fy * ph), r) for fx, fy in product.holes]


@lru_cache(maxsize=16)
def _plate_cached(product_json: str, seed: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    product = ProductConfig.model_validate_json(product_json)
    pw, ph = plate_size(product, width, height)
    rng = generator(seed, 0x7E47)
    noise = rng.standard_normal((ph, pw)).astype(np.float32)
    if product.kind == "brushed_metal":
        tex = cv2.blur(noise, (max(3, pw // 8) | 1, 1)) * 4.0 + cv2.GaussianBlur(noise, (0, 0), 0.7) * 0.35
    else:
        tex = cv2.GaussianBlur(noise, (0, 0), 2.0) * 2.5 + noise * 0.25
    tex *= product.texture_strength / max(1e-6, float(tex.std()))
    base = np.asarray(product.color_bgr, np.float32)[None, None, :]
    plain = np.clip(base + tex[..., None], 0, 255)
    # bevel: darker rim so the part stands out from the belt
    rim = max(2, pw // 120)
    cv2.rectangle(plain, (0, 0), (pw - 1, ph - 1), (base * 0.7).ravel().tolist(), rim)
    plain_u8 = plain.astype(np.uint8)
    holed = plain_u8.copy()
    for x, y, r in hole_geometry(product, pw, ph):
        cv2.circle(holed, (x, y), r + max(1, r // 4), (base * 0.8).ravel().tolist(), -1, cv2.LINE_AA)
        cv2.circle(holed, (x, y), r, (28, 28, 30), -1, cv2.LINE_AA)
    plain_u8.flags.writeable = False
    holed.flags.writeable = False
    return holed, plain_u8


def plate_textures(
    product: ProductConfig, seed: int, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """(plate with holes, plate without holes) as read-only BGR uint8 arrays."""
    return _plate_cached(product.model_dump_json(), seed, width, height)


@lru_cache(maxsize=8)
def belt_texture(seed: int, width: int, height: int) -> np.ndarray:
    """A dark rubber conveyor, ``BELT_PERIOD`` px wider than the frame so it can scroll."""
    rng = generator(seed, 0xBE17)
    w = width + BELT_PERIOD
    noise = cv2.GaussianBlur(rng.standard_normal((height, w)).astype(np.float32), (0, 0), 1.2)
    belt = 58.0 + noise * 10.0
    for x in range(0, w, BELT_PERIOD // 2):
        belt[:, x : x + 2] -= 14.0
    out = np.clip(
        np.repeat(belt[..., None], 3, axis=2) * np.asarray([1.0, 1.02, 1.05], dtype=np.float32), 0, 255
    ).astype(np.uint8)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=16)
def gain_map(
    width: int, height: int, brightness: float, gradient: float, angle_deg: float, vignette: float
) -> np.ndarray:
    """Multiplicative lighting: brightness x linear gradient x radial vignette, shape (h, w, 3) float32."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    theta = np.deg2rad(angle_deg)
    half_diag = float(np.hypot(cx, cy)) or 1.0
    along = ((xs - cx) * np.cos(theta) + (ys - cy) * np.sin(theta)) / half_diag
    r2 = ((xs - cx) ** 2 + (ys - cy) ** 2) / half_diag**2
    gain = brightness * (1.0 + gradient * along) * (1.0 - vignette * r2)
    out = np.repeat(np.clip(gain, 0.0, 4.0)[..., None], 3, axis=2).astype(np.float32)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=8)
def noise_bank(seed: int, width: int, height: int, sigma: float) -> np.ndarray:
    """Gaussian sensor noise, ``NOISE_PAD`` px larger than the frame; frames take a random window of it."""
    rng = generator(seed, 0x0015E)
    bank = rng.standard_normal((height + NOISE_PAD, width + NOISE_PAD, 3), dtype=np.float32) * sigma
    bank.flags.writeable = False
    return bank
