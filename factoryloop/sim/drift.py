"""Resolve the drift schedule into the effective line state of one frame."""

from __future__ import annotations

import math
from dataclasses import dataclass

from factoryloop.sim.config import (
    CameraDrift,
    ClassRateDrift,
    DriftEvent,
    LightingDrift,
    ProductChangeDrift,
    ProductConfig,
    RateSpikeDrift,
    SimConfig,
)
from factoryloop.sim.errors import SimError


@dataclass(frozen=True)
class FrameState:
    """What the line looks like at one frame, after every active drift has been applied."""

    product_name: str
    product: ProductConfig
    rates: tuple[float, ...]  # per class id
    brightness: float
    gradient: float
    gradient_angle_deg: float
    vignette: float
    shift_x: float
    shift_y: float
    defocus_sigma: float
    motion_blur_px: int
    active_drift: tuple[str, ...]


def drift_window(event: DriftEvent, fps: float) -> tuple[int, int | None]:
    """First frame and end frame (exclusive, ``None`` = forever) of a drift event."""
    start = event.at_frame if event.at_frame is not None else math.ceil((event.at_s or 0.0) * fps)
    end: int | None = event.until_frame
    if event.until_s is not None:
        end = math.ceil(event.until_s * fps)
    return start, end


def is_active(event: DriftEvent, index: int, fps: float) -> bool:
    start, end = drift_window(event, fps)
    return start <= index and (end is None or index < end)


def resolve_state(config: SimConfig, index: int) -> FrameState:
    """Apply, in schedule order, every drift event active at frame ``index``."""
    cam = config.camera
    product = config.product
    names = config.class_names
    rates = [config.defect_config(name).rate for name in names]
    light = {
        "brightness": cam.brightness,
        "gradient": cam.gradient,
        "gradient_angle_deg": cam.gradient_angle_deg,
        "vignette": cam.vignette,
    }
    optics = {
        "shift_x": cam.shift_x,
        "shift_y": cam.shift_y,
        "defocus_sigma": cam.defocus_sigma,
        "motion_blur_px": cam.motion_blur_px,
    }
    active: list[str] = []
    spikes: list[RateSpikeDrift] = []
    for n, event in enumerate(config.drift):
        if not is_active(event, index, cam.fps):
            continue
        active.append(f"{n}:{event.type}")
        if isinstance(event, LightingDrift):
            _override(light, event)
        elif isinstance(event, CameraDrift):
            _override(optics, event)
        elif isinstance(event, ClassRateDrift):
            rates[_class_index(names, event.class_name)] = event.rate
        elif isinstance(event, RateSpikeDrift):
            spikes.append(event)
        elif isinstance(event, ProductChangeDrift):
            product = event.product
    for spike in spikes:
        for name in spike.class_names:
            _class_index(names, name)
        for cid, name in enumerate(names):
            if not spike.class_names or name in spike.class_names:
                rates[cid] = min(1.0, rates[cid] * spike.factor)
    return FrameState(
        product_name=product,
        product=config.products[product],
        rates=tuple(rates),
        brightness=float(light["brightness"]),
        gradient=float(light["gradient"]),
        gradient_angle_deg=float(light["gradient_angle_deg"]),
        vignette=float(light["vignette"]),
        shift_x=float(optics["shift_x"]),
        shift_y=float(optics["shift_y"]),
        defocus_sigma=float(optics["defocus_sigma"]),
        motion_blur_px=int(optics["motion_blur_px"]),
        active_drift=tuple(active),
    )


def _class_index(names: tuple[str, ...], name: str) -> int:
    if name not in names:
        raise SimError(f"drift names unknown defect class {name!r}; classes of this line: {', '.join(names)}")
    return names.index(name)


def _override(target: dict[str, float], event: LightingDrift | CameraDrift) -> None:
    for key in list(target):
        value = getattr(event, key, None)
        if value is not None:
            target[key] = value
