"""Rollout policy per product: a YAML validated with ``extra="forbid"`` (each error named by its YAML path).

```yaml
default:                      # every product not named below
  mode: auto                  # auto: what the gate promotes rolls out by itself; manual: an engineer ships
  window_s: 300               # how long each canary stage is watched
  stages:                     # widened in order; a last `{type: all}` is implied when missing
    - {type: shadow, count: 1}          # optional, first: beside the champion, never acting
    - {type: agents, count: 1}          # or agents: [agent-7] (named)
    - {type: fraction, fraction: 0.5}   # half of the product's agents (at least one more than before)
    - {type: lines, lines: [line-1]}    # every agent of these lines
    - {type: all}
  judge: {max_errors: 0, max_latency_p99_ratio: 2.0, max_defect_rate_jump: 0.2, max_override_rate: 0.3,
          max_disagreement: 0.2, max_missed_rate: 0.1, min_shadow_frames: 50}
products:
  steel_plate: {mode: manual}
```

Defaults a plant would accept: one agent first, then every agent, 5 minutes each; a canary fails on any
new error or refused model, a p99 latency over twice the champion's on the same agent (or 200 ms), a defect
rate 0.2 higher than the champion's agents, or supervisors overriding more than 30 % of its reviewed outcomes.
A shadow stage (none by default) fails when the challenger's verdict differs from the champion's on more than
20 % of the frames both judged, or when it would let pass more than 10 % of the frames the champion fails
(:class:`training.rollout.shadow.ShadowWatch`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from factoryloop.yamlpath import read_yaml, validate_mapping
from training.errors import TrainingError
from training.settings import TrainSettings


class PolicyConfigError(TrainingError):
    """The rollout policy file is unreadable or invalid; the message lists each error with its YAML path."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"{source}: invalid rollout policy:\n  " + "\n  ".join(errors))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentsStage(_Strict):
    """Named agents, or the first ``count`` of the product's agents (by id)."""

    type: Literal["agents"] = "agents"
    agents: tuple[str, ...] = ()
    count: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one(self) -> AgentsStage:
        if bool(self.agents) == (self.count is not None):
            raise ValueError("give either agents (names) or count")
        return self


class FractionStage(_Strict):
    type: Literal["fraction"] = "fraction"
    fraction: float = Field(gt=0.0, le=1.0)


class LinesStage(_Strict):
    type: Literal["lines"] = "lines"
    lines: tuple[str, ...] = Field(min_length=1)


class AllStage(_Strict):
    type: Literal["all"] = "all"


class ShadowStage(_Strict):
    """The challenger beside the champion on these agents (named, the first ``count`` by id, or a
    ``fraction``), on ``sample_rate`` of their frames; the champion keeps deciding. Only before the
    canary stages."""

    type: Literal["shadow"] = "shadow"
    agents: tuple[str, ...] = ()
    count: int | None = Field(default=None, ge=1)
    fraction: float | None = Field(default=None, gt=0.0, le=1.0)
    sample_rate: float = Field(default=1.0, gt=0.0, le=1.0, description="Share of frames the shadow judges.")

    @model_validator(mode="after")
    def _one(self) -> ShadowStage:
        if sum((bool(self.agents), self.count is not None, self.fraction is not None)) != 1:
            raise ValueError("give one of agents (names), count or fraction")
        return self


Stage = Annotated[
    ShadowStage | AgentsStage | FractionStage | LinesStage | AllStage, Field(discriminator="type")
]


class Judge(_Strict):
    """What a canary stage is judged on (see :class:`training.rollout.watch.CanaryWatch`)."""

    max_errors: int = Field(default=0, ge=0, description="New errors per canary agent.")
    max_latency_p99_ms: float = Field(default=200.0, gt=0, description="Absolute p99 limit per canary agent.")
    max_latency_p99_ratio: float = Field(
        default=2.0, gt=1.0, description="p99 on the canary over the same agent's p99 on the champion."
    )
    max_defect_rate_jump: float = Field(
        default=0.2, ge=0.0, le=1.0, description="FAIL rate of the canary minus the champion's."
    )
    max_override_rate: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Reviews of canary outcomes that were not 'confirm'."
    )
    min_outcomes: int = Field(default=20, ge=1, description="Canary outcomes before the defect rate counts.")
    min_reviews: int = Field(default=10, ge=1, description="Reviews before the override rate counts.")
    max_disagreement: float | None = Field(
        default=0.2, ge=0.0, le=1.0, description="Shadow: share of frames whose verdicts differ (None: any)."
    )
    max_missed_rate: float | None = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Shadow: share of the champion's FAIL frames the challenger does not fail (None: any).",
    )
    min_shadow_frames: int = Field(default=50, ge=1, description="Frames both judged before a shadow counts.")


class RolloutPolicy(_Strict):
    mode: Literal["auto", "manual"] = "auto"
    window_s: float = Field(default=300.0, gt=0)
    stages: tuple[Stage, ...] = (AgentsStage(count=1), AllStage())
    judge: Judge = Judge()

    @field_validator("stages")
    @classmethod
    def _ends_with_all(cls, stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
        if any(isinstance(s, AllStage) for s in stages[:-1]):
            raise ValueError("{type: all} can only be the last stage")
        shadows = [isinstance(s, ShadowStage) for s in stages]
        if shadows != sorted(shadows, reverse=True):
            raise ValueError("{type: shadow} stages come first, before any stage that serves the model")
        if not stages or not isinstance(stages[-1], AllStage):
            return (*stages, AllStage())
        return stages


class RolloutPolicies(_Strict):
    default: RolloutPolicy = RolloutPolicy()
    products: dict[str, RolloutPolicy] = Field(default_factory=dict)

    def for_product(self, product: str) -> RolloutPolicy:
        return self.products.get(product, self.default)


def default_policies(settings: TrainSettings) -> RolloutPolicies:
    """The policy file's (``FACTORYLOOP_TRAIN_ROLLOUT_POLICY_FILE``) when set, else the default policy with
    the window and limits of the ``FACTORYLOOP_TRAIN_CANARY_*`` settings."""
    if settings.rollout_policy_file is not None:
        return load_policies(settings.rollout_policy_file)
    judge = Judge(
        max_errors=settings.canary_max_errors,
        max_latency_p99_ms=settings.canary_max_latency_p99_ms,
        max_defect_rate_jump=settings.canary_max_defect_rate_jump,
        max_override_rate=settings.canary_max_override_rate,
    )
    return RolloutPolicies(default=RolloutPolicy(window_s=settings.canary_window_s, judge=judge))


def parse_policies(data: Any, source: str = "<rollout policy>") -> RolloutPolicies:
    return validate_mapping(RolloutPolicies, data, source, PolicyConfigError)


def load_policies(path: str | Path) -> RolloutPolicies:
    """Read and validate a rollout policy YAML; :class:`PolicyConfigError` names each problem's path."""
    path = Path(path)
    return parse_policies(read_yaml(path, PolicyConfigError), str(path))
