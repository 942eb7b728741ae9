"""A fixed schedule: retrain each listed product every ``every_h`` hours (counted from the product's last
retrain request, else from when the schedule first started counting), whether or not anything else fired.

With the trainer's state the times are durable: a restarted trainer keeps counting from them (a trainer
restarted more often than ``every_h`` still retrains on time).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from training.triggers.base import RetrainRequest

if TYPE_CHECKING:
    from training.triggers.state import TrainerState


class ScheduleTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["schedule"] = "schedule"
    every_h: float = Field(gt=0, description="Hours between two scheduled retrains of a product.")
    products: tuple[str, ...] = Field(min_length=1, description="Products retrained on this schedule.")


class ScheduleTrigger:
    name = "schedule"

    def __init__(
        self, config: ScheduleTriggerConfig, now: datetime, state: TrainerState | None = None
    ) -> None:
        self.config = config
        self.state = state
        self.period = timedelta(hours=config.every_h)
        self.last: dict[str, datetime] = {}
        for product in config.products:
            last = state.schedule_last(product) if state is not None else None
            if last is None:
                last = now
                if state is not None:
                    state.set_schedule_last(product, now)
            self.last[product] = last

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
            if self.state is not None:
                self.state.set_schedule_last(product, now)
