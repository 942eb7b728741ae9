"""Drift events of the simulated line: each changes the line from a frame (or a time) on.

``ClassRateDrift`` and ``RateSpikeDrift`` name classes of the line's class map (``SimConfig.classes``);
:class:`SimConfig` checks those names.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_MODEL = ConfigDict(extra="forbid", frozen=True)


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
    class_name: str
    rate: float = Field(ge=0.0, le=1.0)


class RateSpikeDrift(_DriftBase):
    type: Literal["rate_spike"] = "rate_spike"
    factor: float = Field(3.0, ge=0.0)
    #: Classes whose rate is multiplied (empty: every class).
    class_names: tuple[str, ...] = ()


class ProductChangeDrift(_DriftBase):
    type: Literal["product_change"] = "product_change"
    product: str


DriftEvent = Annotated[
    LightingDrift | CameraDrift | ClassRateDrift | RateSpikeDrift | ProductChangeDrift,
    Field(discriminator="type"),
]


def new_class_drift(class_name: str = "crack", at_frame: int = 500, rate: float = 0.2) -> ClassRateDrift:
    """The closed-loop demo's drift: ``class_name`` (rate 0 before) appears from ``at_frame`` on."""
    return ClassRateDrift(class_name=class_name, at_frame=at_frame, rate=rate)


__all__ = [
    "CameraDrift",
    "ClassRateDrift",
    "DriftEvent",
    "LightingDrift",
    "ProductChangeDrift",
    "RateSpikeDrift",
    "new_class_drift",
]
