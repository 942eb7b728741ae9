"""Named simulator presets: two simulated products, each with its own class map.

``demo`` is the closed-loop demo's line (the metal plate, the default class map ``DEFECT_CLASSES``), tuned so
that a small detector trained from scratch on CPU in a few minutes finds the defects: 320x240 frames (the
smallest camera), a bigger plate with a fainter brushed texture, bigger and higher-contrast defects at high
rates, less noise and shading. ``crack`` is off (rate 0) until :func:`demo_drift_config` switches it on: the
new defect class of the demo.

``tile_line`` is a second product, a glazed ceramic tile line with its own classes (``TILE_CLASSES``:
chip, glaze_bubble, hairline, pinhole), tuned the same way: 320x240, a big plain tile, high-contrast
defects of distinct shapes (a dark notch at the edge, a bright ring, a thin dark meandering line, a small
dark dot) at high rates.
"""

from __future__ import annotations

from factoryloop.sim.config import (
    CameraConfig,
    DefectClassConfig,
    ProductConfig,
    SimConfig,
    new_class_drift,
)
from factoryloop.sim.errors import SimError

#: Per-part rate of ``crack`` once it has appeared (the demo's drift).
DEMO_CRACK_RATE = 0.5

DEMO_SIM = SimConfig(
    seed=7,
    camera=CameraConfig(
        width=320, height=240, noise_sigma=2.0, vignette=0.1, gradient=0.08, pose_jitter_px=4.0
    ),
    products={
        "steel_plate": ProductConfig(width_frac=0.82, texture_strength=5.0, hole_radius_frac=0.045),
        "ceramic_tile": ProductConfig(
            kind="ceramic",
            width_frac=0.6,
            aspect=1.0,
            color_bgr=(190, 205, 215),
            texture_strength=6.0,
            holes=((0.5, 0.5),),
            hole_radius_frac=0.06,
        ),
    },
    defects={
        "scratch": DefectClassConfig(rate=0.5, size=(0.22, 0.38), contrast=(85, 120)),
        "dent": DefectClassConfig(rate=0.4, size=(0.08, 0.12), contrast=(60, 90)),
        "stain": DefectClassConfig(rate=0.4, size=(0.11, 0.17), contrast=(55, 80)),
        "crack": DefectClassConfig(rate=0.0, size=(0.2, 0.32), contrast=(85, 120)),
        "missing_hole": DefectClassConfig(rate=0.5, size=(0.05, 0.05), contrast=(40, 40)),
    },
)


def demo_drift_config(
    at_frame: int = 0, rate: float = DEMO_CRACK_RATE, class_name: str = "crack"
) -> SimConfig:
    """``DEMO_SIM`` where ``class_name`` appears from ``at_frame`` on (at ``rate`` per part)."""
    return DEMO_SIM.model_copy(update={"drift": (new_class_drift(class_name, at_frame, rate),)})


#: The tile line's class map, in id order.
TILE_CLASSES: tuple[str, ...] = ("chip", "glaze_bubble", "hairline", "pinhole")

TILE_SIM = SimConfig(
    seed=13,
    camera=CameraConfig(
        width=320, height=240, noise_sigma=2.0, vignette=0.1, gradient=0.08, pose_jitter_px=4.0
    ),
    products={
        "glazed_tile": ProductConfig(
            kind="ceramic",
            width_frac=0.62,
            aspect=1.0,
            color_bgr=(165, 180, 195),
            texture_strength=5.0,
            holes=(),
        ),
    },
    product="glazed_tile",
    classes=TILE_CLASSES,
    defects={
        "chip": DefectClassConfig(painter="chip", rate=0.4, size=(0.16, 0.24), contrast=(100, 125)),
        "glaze_bubble": DefectClassConfig(painter="bubble", rate=0.5, size=(0.07, 0.1), contrast=(55, 70)),
        # 2 px: a 1 px line fades when the frame is scaled to the detector's 224 px (AP50 0.53 vs 0.9+)
        "hairline": DefectClassConfig(
            painter="crack", rate=0.4, size=(0.22, 0.34), contrast=(85, 120), line_px=2
        ),
        "pinhole": DefectClassConfig(
            painter="pinhole", rate=0.5, max_count=2, size=(0.035, 0.05), contrast=(100, 130)
        ),
    },
)

PRESETS: dict[str, SimConfig] = {"default": SimConfig(), "demo": DEMO_SIM, "tile_line": TILE_SIM}


def preset(name: str) -> SimConfig:
    """A named preset (``default``, ``demo``, ``tile_line``); :class:`SimError` naming the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise SimError(f"unknown simulator preset {name!r}; known: {', '.join(sorted(PRESETS))}") from None


__all__ = [
    "DEMO_CRACK_RATE",
    "DEMO_SIM",
    "PRESETS",
    "TILE_CLASSES",
    "TILE_SIM",
    "demo_drift_config",
    "preset",
]
