"""Pydantic configuration of the simulated line: camera, products, class map, defect classes and drift.

Everything is frozen and ``extra="forbid"`` so that a typo in a YAML file is an error, not a silent default.
The line's class map is ``SimConfig.classes`` (id order); each class is drawn by a *painter*
(``DefectClassConfig.painter``, by default the painter named like the class).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from factoryloop.products.model import ClassName as ProductClassName
from factoryloop.sim.classes import DEFECT_CLASSES
from factoryloop.sim.drift_events import (
    CameraDrift,
    ClassRateDrift,
    DriftEvent,
    LightingDrift,
    ProductChangeDrift,
    RateSpikeDrift,
    new_class_drift,
)
from factoryloop.sim.errors import SimError

_MODEL = ConfigDict(extra="forbid", frozen=True)

#: How a defect is drawn (the painters of ``factoryloop.sim.defects``).
PainterName = Literal["scratch", "dent", "stain", "crack", "missing_hole", "chip", "bubble", "pinhole"]
PAINTER_NAMES: tuple[str, ...] = get_args(PainterName)
LINE_PAINTERS: tuple[str, ...] = ("scratch", "crack")


class CameraConfig(BaseModel):
    """Line camera and optics. ``fps`` is the nominal line rate used for timestamps and time-based drift."""

    model_config = _MODEL
    width: int = Field(640, ge=320, le=1280)
    height: int = Field(480, ge=240, le=1280)
    fps: float = Field(30.0, ge=0.0)
    noise_sigma: float = Field(3.0, ge=0.0, le=40.0)
    vignette: float = Field(0.25, ge=0.0, le=0.9)
    brightness: float = Field(1.0, gt=0.0, le=3.0)
    gradient: float = Field(0.15, ge=0.0, le=0.9)
    gradient_angle_deg: float = 0.0
    pose_jitter_px: float = Field(6.0, ge=0.0)
    pose_jitter_deg: float = Field(1.5, ge=0.0, le=20.0)
    shift_x: float = 0.0
    shift_y: float = 0.0
    motion_blur_px: int = Field(0, ge=0, le=41)
    defocus_sigma: float = Field(0.0, ge=0.0, le=10.0)
    belt_speed_px: int = Field(7, ge=0)


class ProductConfig(BaseModel):
    """A product on the line: a metal plate or ceramic tile with optional drilled holes."""

    model_config = _MODEL
    kind: Literal["brushed_metal", "ceramic"] = "brushed_metal"
    width_frac: float = Field(0.62, gt=0.1, le=0.9)
    aspect: float = Field(0.66, gt=0.2, le=2.0)
    color_bgr: tuple[int, int, int] = (150, 152, 155)
    texture_strength: float = Field(14.0, ge=0.0, le=60.0)
    #: Hole centres as fractions of the plate (x, y); ``missing_hole`` removes one of them.
    holes: tuple[tuple[float, float], ...] = ((0.1, 0.14), (0.9, 0.14), (0.1, 0.86), (0.9, 0.86))
    hole_radius_frac: float = Field(0.035, gt=0.0, le=0.2)


class DefectClassConfig(BaseModel):
    """One defect class: rate per part, count, size (fraction of plate width), contrast (grey levels).

    ``painter`` says how the defect is drawn; ``None`` means the painter named like the class.
    """

    model_config = _MODEL
    painter: PainterName | None = None
    rate: float = Field(0.1, ge=0.0, le=1.0)
    max_count: int = Field(1, ge=1, le=8)
    size: tuple[float, float] = (0.05, 0.2)
    contrast: tuple[float, float] = (30.0, 70.0)
    #: Line thickness in plate pixels for the line painters (scratch, crack); None: from the plate width.
    line_px: int | None = Field(None, ge=1, le=8)

    @model_validator(mode="after")
    def _ranges(self) -> DefectClassConfig:
        if not 0 < self.size[0] <= self.size[1] <= 0.9:
            raise ValueError(f"size range {self.size} must satisfy 0 < min <= max <= 0.9")
        if not 0 < self.contrast[0] <= self.contrast[1] <= 255:
            raise ValueError(f"contrast range {self.contrast} must satisfy 0 < min <= max <= 255")
        return self


def _default_defects() -> dict[str, DefectClassConfig]:
    return {
        "scratch": DefectClassConfig(rate=0.12, max_count=2, size=(0.12, 0.35), contrast=(30, 60)),
        "dent": DefectClassConfig(rate=0.10, size=(0.03, 0.07), contrast=(35, 70)),
        "stain": DefectClassConfig(rate=0.08, size=(0.06, 0.14), contrast=(25, 50)),
        "crack": DefectClassConfig(rate=0.0, size=(0.10, 0.28), contrast=(45, 80)),
        "missing_hole": DefectClassConfig(rate=0.05, size=(0.05, 0.05), contrast=(40, 40)),
    }


def _default_products() -> dict[str, ProductConfig]:
    return {
        "steel_plate": ProductConfig(),
        "ceramic_tile": ProductConfig(
            kind="ceramic",
            width_frac=0.5,
            aspect=1.0,
            color_bgr=(190, 205, 215),
            texture_strength=9.0,
            holes=((0.5, 0.5),),
            hole_radius_frac=0.05,
        ),
    }


class SimConfig(BaseModel):
    """The whole simulated line. Frame ``i`` depends only on ``(seed, i, config)``.

    ``classes`` is the line's class map in id order (default: the default product's classes,
    ``DEFECT_CLASSES``); ``defects`` configures some of them (a class left out has rate 0).
    """

    model_config = _MODEL
    seed: int = Field(0, ge=0)
    camera: CameraConfig = CameraConfig()
    products: dict[str, ProductConfig] = Field(default_factory=_default_products)
    product: str = "steel_plate"
    classes: tuple[ProductClassName, ...] = Field(DEFECT_CLASSES, min_length=1)
    defects: dict[str, DefectClassConfig] = Field(default_factory=_default_defects)
    drift: tuple[DriftEvent, ...] = ()

    @model_validator(mode="after")
    def _refs(self) -> SimConfig:
        names = [self.product] + [d.product for d in self.drift if isinstance(d, ProductChangeDrift)]
        for name in names:
            if name not in self.products:
                raise ValueError(f"unknown product {name!r}; defined: {', '.join(sorted(self.products))}")
        timed = any(d.at_s is not None or d.until_s is not None for d in self.drift)
        if timed and self.camera.fps <= 0:
            raise ValueError("time-based drift (at_s/until_s) needs camera.fps > 0")
        problem = config_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def class_names(self) -> tuple[str, ...]:
        """The line's class map: ``class_names[class_id] == name``."""
        return self.classes

    def defect_config(self, name: str) -> DefectClassConfig:
        """The configuration of one class; classes missing from ``defects`` have rate 0."""
        return self.defects.get(name) or DefectClassConfig(rate=0.0)

    def painter(self, name: str) -> str:
        """The painter that draws class ``name``: its ``painter``, else the painter named like it."""
        return self.defect_config(name).painter or name

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def config_problem(config: SimConfig) -> str | None:
    """What is wrong with the class map, its painters and the drift's classes (``None``: nothing).

    Also used on configs built with ``model_copy`` (which skips validation): see :func:`check_config`.
    """
    known = ", ".join(config.classes)
    dup = sorted({n for n in config.classes if config.classes.count(n) > 1})
    if dup:
        return f"classes repeated in the class map: {', '.join(dup)}"
    extra = [n for n in config.defects if n not in config.classes]
    if extra:
        return (
            f"defects configured for {', '.join(repr(n) for n in extra)}, not in the class map ({known}); "
            "list the line's classes under `classes`"
        )
    for name in config.classes:
        if config.painter(name) not in PAINTER_NAMES:
            return (
                f"defect class {name!r} has no painter: set defects.{name}.painter to one of "
                f"{', '.join(PAINTER_NAMES)}"
            )
        if config.defect_config(name).line_px is not None and config.painter(name) not in LINE_PAINTERS:
            return f"defects.{name}.line_px applies to the line painters {', '.join(LINE_PAINTERS)} only"
    for n, event in enumerate(config.drift):
        named: tuple[str, ...] = (event.class_name,) if isinstance(event, ClassRateDrift) else ()
        named = event.class_names if isinstance(event, RateSpikeDrift) else named
        unknown = [c for c in named if c not in config.classes]
        if unknown:
            return (
                f"drift event {n} ({event.type}) names unknown defect class "
                f"{', '.join(repr(c) for c in unknown)}; classes of this line: {known}"
            )
    return None


def check_config(config: SimConfig) -> SimConfig:
    """``config`` itself; :class:`SimError` when it is invalid (e.g. a drift added with ``model_copy``)."""
    problem = config_problem(config)
    if problem:
        raise SimError(f"invalid simulator config: {problem}")
    return config


def parse_config(data: Any, source: str = "simulator config") -> SimConfig:
    """Validate parsed YAML/JSON into a :class:`SimConfig`; :class:`SimError` naming ``source``."""
    try:
        return SimConfig.model_validate(data)
    except ValidationError as exc:
        raise SimError(f"{source}: invalid simulator config:\n{exc}") from exc


def load_config(path: str | Path) -> SimConfig:
    """Load a YAML simulator configuration; :class:`SimError` naming the file on any problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SimError(f"{path}: cannot read simulator config: {exc}") from exc
    return parse_config(data, str(path))


__all__ = [
    "DEFECT_CLASSES",
    "PAINTER_NAMES",
    "CameraConfig",
    "CameraDrift",
    "ClassRateDrift",
    "DefectClassConfig",
    "DriftEvent",
    "LightingDrift",
    "PainterName",
    "ProductChangeDrift",
    "ProductConfig",
    "RateSpikeDrift",
    "SimConfig",
    "check_config",
    "config_problem",
    "load_config",
    "new_class_drift",
    "parse_config",
]
