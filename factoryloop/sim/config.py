"""Pydantic configuration of the simulated line: camera, products, defect classes and the drift schedule.

Everything is frozen and ``extra="forbid"`` so that a typo in a YAML file is an error, not a silent default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from factoryloop.sim.classes import DEFECT_CLASSES, ClassName
from factoryloop.sim.errors import SimError

_MODEL = ConfigDict(extra="forbid", frozen=True)


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
    """One defect class: rate per part, count, size (fraction of plate width), contrast (grey levels)."""

    model_config = _MODEL
    rate: float = Field(0.1, ge=0.0, le=1.0)
    max_count: int = Field(1, ge=1, le=8)
    size: tuple[float, float] = (0.05, 0.2)
    contrast: tuple[float, float] = (30.0, 70.0)

    @model_validator(mode="after")
    def _ranges(self) -> DefectClassConfig:
        if not 0 < self.size[0] <= self.size[1] <= 0.9:
            raise ValueError(f"size range {self.size} must satisfy 0 < min <= max <= 0.9")
        if not 0 < self.contrast[0] <= self.contrast[1] <= 255:
            raise ValueError(f"contrast range {self.contrast} must satisfy 0 < min <= max <= 255")
        return self


def _default_defects() -> dict[ClassName, DefectClassConfig]:
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


class _DriftBase(BaseModel):
    """Active from ``at_frame`` (or ``at_s`` seconds at the nominal fps) until ``until_*`` (exclusive)."""

    model_config = _MODEL
    at_frame: int | None = Field(None, ge=0)
    at_s: float | None = Field(None, ge=0.0)
    until_frame: int | None = Field(None, ge=0)
    until_s: float | None = Field(None, ge=0.0)

    @model_validator(mode="after")
    def _when(self) -> _DriftBase:
        if (self.at_frame is None) == (self.at_s is None):
            raise ValueError("give exactly one of at_frame or at_s")
        if self.until_frame is not None and self.until_s is not None:
            raise ValueError("give at most one of until_frame or until_s")
        return self


class LightingDrift(_DriftBase):
    type: Literal["lighting"] = "lighting"
    brightness: float | None = Field(None, gt=0.0, le=3.0)
    gradient: float | None = Field(None, ge=0.0, le=0.9)
    gradient_angle_deg: float | None = None
    vignette: float | None = Field(None, ge=0.0, le=0.9)


class CameraDrift(_DriftBase):
    type: Literal["camera"] = "camera"
    shift_x: float | None = None
    shift_y: float | None = None
    defocus_sigma: float | None = Field(None, ge=0.0, le=10.0)
    motion_blur_px: int | None = Field(None, ge=0, le=41)


class ClassRateDrift(_DriftBase):
    """Set one class's rate: a class at rate 0 that becomes > 0 is a *new defect class* appearing."""

    type: Literal["class_rate"] = "class_rate"
    class_name: ClassName
    rate: float = Field(ge=0.0, le=1.0)


class RateSpikeDrift(_DriftBase):
    type: Literal["rate_spike"] = "rate_spike"
    factor: float = Field(3.0, ge=0.0)
    class_names: tuple[ClassName, ...] = ()


class ProductChangeDrift(_DriftBase):
    type: Literal["product_change"] = "product_change"
    product: str


DriftEvent = Annotated[
    LightingDrift | CameraDrift | ClassRateDrift | RateSpikeDrift | ProductChangeDrift,
    Field(discriminator="type"),
]


class SimConfig(BaseModel):
    """The whole simulated line. Frame ``i`` depends only on ``(seed, i, config)``."""

    model_config = _MODEL
    seed: int = Field(0, ge=0)
    camera: CameraConfig = CameraConfig()
    products: dict[str, ProductConfig] = Field(default_factory=_default_products)
    product: str = "steel_plate"
    defects: dict[ClassName, DefectClassConfig] = Field(default_factory=_default_defects)
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
        return self

    def defect_config(self, name: ClassName) -> DefectClassConfig:
        """The configuration of one class; classes missing from ``defects`` have rate 0."""
        return self.defects.get(name) or DefectClassConfig(rate=0.0)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def load_config(path: str | Path) -> SimConfig:
    """Load a YAML simulator configuration; :class:`SimError` naming the file on any problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SimError(f"{path}: cannot read simulator config: {exc}") from exc
    try:
        return SimConfig.model_validate(data)
    except ValidationError as exc:
        raise SimError(f"{path}: invalid simulator config:\n{exc}") from exc


def new_class_drift(
    class_name: ClassName = "crack", at_frame: int = 500, rate: float = 0.2
) -> ClassRateDrift:
    """The closed-loop demo's drift: ``class_name`` (rate 0 before) appears from ``at_frame`` on."""
    return ClassRateDrift(class_name=class_name, at_frame=at_frame, rate=rate)


__all__ = [
    "DEFECT_CLASSES",
    "CameraConfig",
    "CameraDrift",
    "ClassRateDrift",
    "DefectClassConfig",
    "DriftEvent",
    "LightingDrift",
    "ProductChangeDrift",
    "ProductConfig",
    "RateSpikeDrift",
    "SimConfig",
    "load_config",
    "new_class_drift",
]
