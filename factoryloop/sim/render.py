"""The simulated line camera: frame ``i`` -> BGR image plus exact ground-truth boxes and masks."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from factoryloop.sim.config import SimConfig, check_config
from factoryloop.sim.defects import PaintedDefect, Painter, PaintRequest, Rect
from factoryloop.sim.drift import FrameState, resolve_state
from factoryloop.sim.errors import SimError
from factoryloop.sim.painters import NEEDS_HOLES, painter
from factoryloop.sim.textures import (
    BELT_PERIOD,
    NOISE_PAD,
    belt_texture,
    gain_map,
    generator,
    hole_geometry,
    noise_bank,
    plate_textures,
)

_POSE, _DEFECTS = 1, 2


@dataclass(frozen=True)
class SimBox:
    """A ground-truth defect: pixel box ``[x1, x2) x [y1, y2)`` and its mask cropped to the box.

    ``class_id`` is the id in the line's class map (``SimConfig.class_names``), ``class_name`` its name.
    """

    class_id: int
    x1: int
    y1: int
    x2: int
    y2: int
    mask: np.ndarray = field(compare=False, repr=False)
    class_name: str = field(kw_only=True)

    def yolo(self, width: int, height: int) -> tuple[float, float, float, float]:
        """Normalised (cx, cy, w, h) as in a YOLO label line."""
        return (
            (self.x1 + self.x2) / 2 / width,
            (self.y1 + self.y2) / 2 / height,
            (self.x2 - self.x1) / width,
            (self.y2 - self.y1) / height,
        )


@dataclass(frozen=True)
class SimFrame:
    """One rendered frame: ``image`` is BGR uint8 (height, width, 3)."""

    index: int
    timestamp_s: float
    image: np.ndarray = field(compare=False, repr=False)
    boxes: tuple[SimBox, ...]
    product: str
    drift: tuple[str, ...]

    def label_mask(self) -> np.ndarray:
        """uint8 (height, width) map: 0 background, ``class_id + 1`` on defect pixels."""
        out = np.zeros(self.image.shape[:2], np.uint8)
        for b in self.boxes:
            out[b.y1 : b.y2, b.x1 : b.x2][b.mask] = b.class_id + 1
        return out


@dataclass(frozen=True)
class _ClassPlan:
    """How one class of the line is drawn: its painter, and whether that painter needs drilled holes."""

    name: str
    painter: Painter
    needs_holes: bool


class Simulator:
    """Deterministic simulated production line. Thread-safe for reads; textures are cached per process.

    :class:`SimError` when the config is invalid (e.g. a drift added with ``model_copy`` names a class the
    line does not have).
    """

    def __init__(self, config: SimConfig | None = None, *, seed: int | None = None) -> None:
        self.config = check_config(config or SimConfig())
        self.seed = self.config.seed if seed is None else seed
        if self.seed < 0:
            raise SimError(f"seed must be >= 0, got {self.seed}")
        self.width = self.config.camera.width
        self.height = self.config.camera.height
        self.class_names = self.config.class_names
        self._plans = tuple(
            _ClassPlan(name, painter(self.config.painter(name)), self.config.painter(name) in NEEDS_HOLES)
            for name in self.class_names
        )

    def state(self, index: int) -> FrameState:
        return resolve_state(self.config, index)

    def frames(self, start: int = 0, count: int | None = None) -> Iterator[SimFrame]:
        i = start
        while count is None or i < start + count:
            yield self.frame(i)
            i += 1

    def frame(self, index: int, *, defects: bool = True) -> SimFrame:
        """Render frame ``index``. ``defects=False`` renders the same part, pose and noise without defects."""
        if index < 0:
            raise SimError(f"frame index must be >= 0, got {index}")
        st = self.state(index)
        cam, w, h = self.config.camera, self.width, self.height
        holed, plain = plate_textures(st.product, self.seed, w, h)
        ph, pw = holed.shape[:2]
        pose = generator(self.seed, index, _POSE)
        jx, jy = pose.normal(0.0, cam.pose_jitter_px, 2) if cam.pose_jitter_px > 0 else (0.0, 0.0)
        angle = float(pose.normal(0.0, cam.pose_jitter_deg)) if cam.pose_jitter_deg > 0 else 0.0
        nx, ny = (int(v) for v in pose.integers(0, NOISE_PAD, 2))
        m = cv2.getRotationMatrix2D((pw / 2.0, ph / 2.0), angle, 1.0)
        m[0, 2] += w / 2.0 + st.shift_x + float(jx) - pw / 2.0
        m[1, 2] += h / 2.0 + st.shift_y + float(jy) - ph / 2.0

        plate, painted = (holed, []) if not defects else self._paint(index, st, holed, plain)

        off = (index * cam.belt_speed_px) % BELT_PERIOD
        img = np.ascontiguousarray(belt_texture(self.seed, w, h)[:, off : off + w])
        cv2.warpAffine(plate, m, (w, h), dst=img, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
        img = self._blur(img, st)
        gain = gain_map(w, h, st.brightness, st.gradient, st.gradient_angle_deg, st.vignette)
        lit = cv2.multiply(img, gain, dtype=cv2.CV_32F)
        if cam.noise_sigma > 0:
            noise = noise_bank(self.seed, w, h, cam.noise_sigma)[ny : ny + h, nx : nx + w]
            img = cv2.add(lit, np.ascontiguousarray(noise), dtype=cv2.CV_8U)
        else:
            img = cv2.convertScaleAbs(lit)
        boxes = tuple(b for b in (self._box(d, m, st) for d in painted) if b is not None)
        ts = index / cam.fps if cam.fps > 0 else 0.0
        return SimFrame(index, ts, img, boxes, st.product_name, st.active_drift)

    def _paint(
        self, index: int, st: FrameState, holed: np.ndarray, plain: np.ndarray
    ) -> tuple[np.ndarray, list[PaintedDefect]]:
        plate: np.ndarray | None = None
        painted: list[PaintedDefect] = []
        taken: list[Rect] = []
        pw = holed.shape[1]
        holes = hole_geometry(st.product, pw, holed.shape[0])
        for cid, plan in enumerate(self._plans):
            rate = st.rates[cid]
            rng = generator(self.seed, index, _DEFECTS, cid)  # per class: a new class leaves the others alone
            if rate <= 0 or rng.random() >= rate or (plan.needs_holes and not holes):
                continue
            cfg = self.config.defect_config(plan.name)
            if plate is None:
                plate = holed.copy()
            for _ in range(int(rng.integers(1, cfg.max_count + 1))):
                size, contrast = rng.uniform(*cfg.size) * pw, rng.uniform(*cfg.contrast)
                req = PaintRequest(rng, plate, plain, holes, size, contrast, taken, cid, cfg.line_px)
                done = plan.painter(req)
                if done is not None:
                    painted.append(done)
                    taken.append(done.rect)
        return (holed if plate is None else plate), painted

    @staticmethod
    def _blur_params(st: FrameState) -> tuple[int, int]:
        k = 2 * math.ceil(3 * st.defocus_sigma) + 1 if st.defocus_sigma > 0 else 0
        return (st.motion_blur_px if st.motion_blur_px > 1 else 0), k

    def _blur(self, img: np.ndarray, st: FrameState) -> np.ndarray:
        motion, k = self._blur_params(st)
        if motion:
            img = cv2.blur(img, (motion, 1))
        if k:
            img = cv2.GaussianBlur(img, (k, k), st.defocus_sigma)
        return img

    def _box(self, d: PaintedDefect, m: np.ndarray, st: FrameState) -> SimBox | None:
        motion, k = self._blur_params(st)
        pad = 2 + motion // 2 + k // 2
        x0, y0, x1, y1 = d.rect
        corners = np.asarray([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], dtype=np.float32) @ m.T
        fx0 = max(0, int(np.floor(corners[:, 0].min())) - pad)
        fy0 = max(0, int(np.floor(corners[:, 1].min())) - pad)
        fx1 = min(self.width, int(np.ceil(corners[:, 0].max())) + pad + 1)
        fy1 = min(self.height, int(np.ceil(corners[:, 1].max())) + pad + 1)
        if fx1 <= fx0 or fy1 <= fy0:
            return None
        local = m.copy()
        local[:, 2] += m[:, :2] @ np.asarray([x0, y0], dtype=np.float64) - np.asarray(
            [fx0, fy0], dtype=np.float64
        )
        warped = cv2.warpAffine(
            d.mask,
            local,
            (fx1 - fx0, fy1 - fy0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        roi: np.ndarray = (warped > 0).astype(np.float32)
        if motion or k:
            if motion:
                roi = cv2.blur(roi, (motion, 1))
            if k:
                roi = cv2.GaussianBlur(roi, (k, k), st.defocus_sigma)
            sel = roi >= 0.3 * float(roi.max()) if roi.max() > 0 else roi > 0
        else:
            sel = roi > 0
        pts = cv2.findNonZero(sel.astype(np.uint8))
        if pts is None:
            return None
        bx, by, bw, bh = cv2.boundingRect(pts)
        crop = sel[by : by + bh, bx : bx + bw].copy()
        crop.flags.writeable = False
        name = self.class_names[d.class_id]
        return SimBox(d.class_id, fx0 + bx, fy0 + by, fx0 + bx + bw, fy0 + by + bh, crop, class_name=name)
