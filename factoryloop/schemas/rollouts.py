"""Rollout messages on the ``rollouts`` topic: what engineers and the API ask of the rollout controller, and
what the controller did.

The rollout controller (the trainer, ``factoryloop train watch``) is the one owner of each product's model
lifecycle: the ``champion`` and ``canary`` aliases and the deployments it publishes. Anyone else (the API,
the dashboard, ``train deploy`` / ``train rollback``) publishes a :class:`RolloutRequest` keyed by product;
the controller carries it out and reports every transition as a :class:`RolloutEvent` (same key, so one
product's story stays in order). The topic has one partition: the trainer that owns it in its consumer group
is the one that acts (leader election by Kafka's group coordinator).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from factoryloop.schemas.base import Event, Identifier, WireModel
from factoryloop.schemas.deployments import FLEET_KEY


class RolloutAction(StrEnum):
    DEPLOY = "deploy"  # roll a registered version out: the product's policy stages, or straight to full
    ROLLBACK = "rollback"  # stop any canary and go back (to ``to_version`` or the previous champion)


class RolloutState(StrEnum):
    REQUESTED = "requested"  # a request was taken (by the controller); the rollout starts next
    HELD = "held"  # the gate passed it but the product's policy is manual: an engineer decides
    SHADOW = "shadow"  # a stage's agents run it beside the champion, never acting on it; the window runs
    CANARY = "canary"  # a stage's agents serve it; the window runs
    WIDENED = "widened"  # a stage passed its window: the next, wider stage starts
    FULL = "full"  # every agent of the product serves it; it is the champion
    ROLLED_BACK = "rolled_back"  # the previous model is back on every agent
    HALTED = "halted"  # failed with nothing to go back to: the canary agents were sent back to no model
    REFUSED = "refused"  # the request could not be carried out (unknown version, another product, ...)


TERMINAL = frozenset({RolloutState.FULL, RolloutState.ROLLED_BACK, RolloutState.HALTED, RolloutState.REFUSED})


class ShadowAsk(WireModel):
    """A shadow stage asked for by an engineer (API ``strategy: shadow``): the challenger beside the champion
    on ``agents`` (live agents of the product; empty: the policy's shadow stages, else its first agent)."""

    agents: tuple[Identifier, ...] = Field(default=(), max_length=1000)
    sample_rate: float = Field(default=1.0, gt=0.0, le=1.0)


class RolloutRequest(Event):
    kind: Literal["rollout_request"] = "rollout_request"
    schema_version: Literal[1] = 1
    request_id: str = Field(min_length=8, max_length=64)
    product: Identifier
    action: RolloutAction
    model_version: str | None = Field(
        default=None, max_length=64, description="deploy: the version (default: the champion)."
    )
    to_version: str | None = Field(
        default=None, max_length=64, description="rollback: the version to go back to (default: previous)."
    )
    staged: bool = Field(
        default=True,
        description="deploy: through the product's canary stages (true) or straight to every agent (false).",
    )
    target: Identifier = Field(default=FLEET_KEY, description=f"A line id, or '{FLEET_KEY}'.")
    shadow: ShadowAsk | None = Field(
        default=None,
        description="deploy: a shadow stage first, on these agents at this sample rate, instead of the "
        "policy's shadow stages (then the policy's canary stages, or every agent when not staged).",
    )
    requested_by: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(default=None, max_length=1000)


class RolloutEvent(Event):
    kind: Literal["rollout_event"] = "rollout_event"
    schema_version: Literal[1] = 1
    rollout_id: str = Field(min_length=8, max_length=64)
    product: Identifier
    model_name: str = Field(min_length=1, max_length=128)
    model_version: str = Field(min_length=1, max_length=64)
    previous_version: str | None = None
    state: RolloutState
    stage: int = Field(default=0, ge=0, description="Index of the stage in the policy (0 = first canary).")
    stages: int = Field(default=0, ge=0, description="How many stages the rollout has.")
    agents: tuple[Identifier, ...] = Field(default=(), description="Agents serving the model at this point.")
    reason: str = Field(default="", max_length=4000)
    evidence: dict[str, float] = Field(
        default_factory=dict, description="What the canary was judged on: outcomes, rates, p99s, ..."
    )
    request_id: str | None = Field(default=None, max_length=64)
    actor: str = Field(default="trainer", max_length=128, description="Who caused it: the trainer or a user.")
    progress: bool = Field(
        default=False,
        description="Not a transition: the stage's figures so far (a shadow stage's, while it runs) or what "
        "the controller waits for (MLflow down); ``state`` is the stage's.",
    )


RolloutMessage = Annotated[RolloutRequest | RolloutEvent, Field(discriminator="kind")]
