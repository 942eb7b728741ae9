"""Which triggers a trainer runs: a YAML list validated with ``extra="forbid"`` and an explicit registry.

```yaml
triggers:
  - {type: new_labels, min_labels: 200}
  - {type: schedule, every_h: 24, products: [steel_plate]}
  - {type: confidence_drift, window: 500, max_psi: 0.25}
  - {type: override_rate, window: 100, min_reviews: 30, max_rate: 0.3}
```
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from factoryloop.yamlpath import read_yaml, validate_mapping
from training.errors import TrainingError
from training.triggers.base import Trigger, TriggerContext
from training.triggers.drift import (
    ConfidenceDriftTrigger,
    ConfidenceDriftTriggerConfig,
    OverrideRateTrigger,
    OverrideRateTriggerConfig,
)
from training.triggers.new_labels import NewLabelsTrigger, NewLabelsTriggerConfig
from training.triggers.schedule import ScheduleTrigger, ScheduleTriggerConfig

if TYPE_CHECKING:
    from training.datasets import DatasetStore
    from training.triggers.state import TrainerState

TriggerConfig = Annotated[
    NewLabelsTriggerConfig | ScheduleTriggerConfig | ConfidenceDriftTriggerConfig | OverrideRateTriggerConfig,
    Field(discriminator="type"),
]


class TriggerConfigError(TrainingError):
    """The triggers file is unreadable or invalid; the message lists each error with its YAML path."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"{source}: invalid triggers config:\n  " + "\n  ".join(errors))


class UnknownTriggerError(TrainingError):
    """A trigger config whose ``type`` has no implementation in the registry."""


class TriggersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    triggers: tuple[TriggerConfig, ...] = Field(default=(NewLabelsTriggerConfig(),))
    check_every_s: float = Field(default=5.0, gt=0, description="How often the triggers are evaluated.")


_REGISTRY: dict[str, Callable[[Any, TriggerContext], Trigger]] = {
    "new_labels": lambda c, ctx: NewLabelsTrigger(c, ctx.store),
    "schedule": lambda c, ctx: ScheduleTrigger(c, ctx.now, ctx.state),
    "confidence_drift": lambda c, ctx: ConfidenceDriftTrigger(c),
    "override_rate": lambda c, ctx: OverrideRateTrigger(c),
}


def build_trigger(
    config: BaseModel,
    now: datetime,
    *,
    store: DatasetStore | None = None,
    state: TrainerState | None = None,
) -> Trigger:
    """``store``: where ``new_labels`` counts stored reviews; ``state``: where ``schedule`` keeps its last
    runs (see :class:`TriggerContext`; the trainer service passes both)."""
    kind = getattr(config, "type", None)
    factory = _REGISTRY.get(str(kind))
    if factory is None:
        raise UnknownTriggerError(f"unknown trigger type {kind!r}; known: {', '.join(sorted(_REGISTRY))}")
    return factory(config, TriggerContext(now, store, state))


def build_triggers(
    config: TriggersConfig,
    now: datetime,
    *,
    store: DatasetStore | None = None,
    state: TrainerState | None = None,
) -> list[Trigger]:
    return [build_trigger(c, now, store=store, state=state) for c in config.triggers]


def parse_triggers(data: Any, source: str = "<triggers>") -> TriggersConfig:
    return validate_mapping(TriggersConfig, data, source, TriggerConfigError)


def load_triggers(path: str | Path) -> TriggersConfig:
    """Read and validate a triggers YAML; :class:`TriggerConfigError` names each problem's path."""
    path = Path(path)
    return parse_triggers(read_yaml(path, TriggerConfigError), str(path))
