"""A fixed schedule: retrain each listed product every ``every_h`` hours (counted from the watcher's start or
the product's last retrain), whether or not anything else fired."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from training.triggers.base import RetrainRequest


class ScheduleTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["schedule"] = "schedule"
    every_h: float = Field(gt=0, description="Hours between two scheduled retrains of a product.")
    products: tuple[str, ...] = Field(min_length=1, description="Products retrained on this schedule.")


class ScheduleTrigger:
    name = "schedule"

    def __init__(self, config: ScheduleTriggerConfig, now: datetime) -> None:
        self.config = config
        self.period = timedelta(hours=config.every_h)
        self.last: dict[str, datetime] = dict.fromkeys(config.products, now)

    def observe(self, event: object, now: datetime) -> None:
        return None

    def due(self, now: datetime) -> list[RetrainRequest]:
        return [
            RetrainRequest(product, self.name, f"scheduled every {self.config.every_h:g} h", now)
            for product, last in sorted(self.last.items())
            if now - last >= self.period
        ]

    def reset(self, product: str, now: datetime) -> None:
        if product in self.last:
            self.last[product] = now
