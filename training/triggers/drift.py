"""Drift on a line -> retrain its product.

* ``confidence_drift``: the distribution of each outcome's top detection confidence (0 when nothing was
  detected) over the latest ``window`` outcomes of a line, against a reference window taken when the model
  started serving there. The shift is the population stability index (PSI) over ten equal bins; PSI >= 0.25
  is the usual "significant shift". A new model version on the line starts a new reference.
* ``override_rate``: the share of the latest ``window`` reviews of a line in which the supervisor corrected or
  rejected what the model said (a confirmation is agreement).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from factoryloop.schemas import Label, Outcome, ReviewAction
from training.triggers.base import RetrainRequest

BINS = np.linspace(0.0, 1.0, 11)


def psi(reference: np.ndarray, recent: np.ndarray, eps: float = 1e-3) -> float:
    """Population stability index of ``recent`` against ``reference`` (values in [0, 1], ten bins)."""
    ref = np.histogram(np.clip(reference, 0.0, 1.0), BINS)[0] / max(1, len(reference))
    now = np.histogram(np.clip(recent, 0.0, 1.0), BINS)[0] / max(1, len(recent))
    ref, now = np.maximum(ref, eps), np.maximum(now, eps)
    return float(np.sum((now - ref) * np.log(now / ref)))


class ConfidenceDriftTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["confidence_drift"] = "confidence_drift"
    window: int = Field(default=500, ge=20, description="Outcomes in the reference and in the recent window.")
    max_psi: float = Field(default=0.25, gt=0, description="PSI at or above which the line has drifted.")


class _LineWindow:
    def __init__(self, size: int, version: str) -> None:
        self.version = version
        self.reference: list[float] = []
        self.recent: deque[float] = deque(maxlen=size)


class ConfidenceDriftTrigger:
    name = "confidence_drift"

    def __init__(self, config: ConfidenceDriftTriggerConfig) -> None:
        self.config = config
        self.lines: dict[tuple[str, str], _LineWindow] = {}

    def observe(self, event: object, now: datetime) -> None:
        if not isinstance(event, Outcome) or event.shadow or event.product is None:
            return
        key = (event.product, event.line_id)
        line = self.lines.get(key)
        if line is None or line.version != event.model.version:
            line = self.lines[key] = _LineWindow(self.config.window, event.model.version)
        top = max((d.confidence for d in event.detections), default=0.0)
        if len(line.reference) < self.config.window:
            line.reference.append(top)
        else:
            line.recent.append(top)

    def shift(self, product: str, line_id: str) -> float | None:
        line = self.lines.get((product, line_id))
        if line is None or len(line.recent) < self.config.window:
            return None
        return psi(np.asarray(line.reference), np.asarray(line.recent))

    def due(self, now: datetime) -> list[RetrainRequest]:
        out: dict[str, RetrainRequest] = {}
        for product, line_id in sorted(self.lines):
            value = self.shift(product, line_id)
            if value is not None and value >= self.config.max_psi and product not in out:
                reason = f"confidence drift on {line_id}: PSI {value:.2f} >= {self.config.max_psi:g}"
                out[product] = RetrainRequest(product, self.name, reason, now)
        return list(out.values())

    def reset(self, product: str, now: datetime) -> None:
        for key in [k for k in self.lines if k[0] == product]:
            del self.lines[key]


class OverrideRateTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["override_rate"] = "override_rate"
    window: int = Field(default=100, ge=1, description="Latest reviews of a line considered.")
    min_reviews: int = Field(default=30, ge=1, description="Reviews needed before the rate means anything.")
    max_rate: float = Field(default=0.3, gt=0, le=1, description="Override share that triggers a retrain.")


class OverrideRateTrigger:
    name = "override_rate"

    def __init__(self, config: OverrideRateTriggerConfig) -> None:
        self.config = config
        self.lines: dict[tuple[str, str], deque[bool]] = {}

    def observe(self, event: object, now: datetime) -> None:
        if not isinstance(event, Label) or event.product is None:
            return
        window = self.lines.setdefault((event.product, event.line_id), deque(maxlen=self.config.window))
        window.append(event.action is not ReviewAction.CONFIRM)

    def rate(self, product: str, line_id: str) -> float | None:
        window = self.lines.get((product, line_id))
        if not window or len(window) < self.config.min_reviews:
            return None
        return sum(window) / len(window)

    def due(self, now: datetime) -> list[RetrainRequest]:
        out: dict[str, RetrainRequest] = {}
        for product, line_id in sorted(self.lines):
            value = self.rate(product, line_id)
            if value is not None and value >= self.config.max_rate and product not in out:
                reason = (
                    f"override rate on {line_id}: {value:.0%} of the last "
                    f"{len(self.lines[(product, line_id)])} reviews >= {self.config.max_rate:.0%}"
                )
                out[product] = RetrainRequest(product, self.name, reason, now)
        return list(out.values())

    def reset(self, product: str, now: datetime) -> None:
        for key in [k for k in self.lines if k[0] == product]:
            del self.lines[key]


__all__ = [
    "ConfidenceDriftTrigger",
    "ConfidenceDriftTriggerConfig",
    "OverrideRateTrigger",
    "OverrideRateTriggerConfig",
    "psi",
]
