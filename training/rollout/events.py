"""The :class:`RolloutEvent` of a rollout's transition (or of its progress) on the rollouts topic."""

from __future__ import annotations

from factoryloop.schemas import RolloutEvent, RolloutState
from training.rollout.ledger import Rollout


def rollout_event(
    r: Rollout,
    state: RolloutState,
    reason: str,
    evidence: dict[str, float] | None = None,
    agents: tuple[str, ...] | None = None,
    progress: bool = False,
) -> RolloutEvent:
    """``agents``: who serves the model now (default: the stage's agents)."""
    return RolloutEvent(
        rollout_id=r.rollout_id,
        product=r.product,
        model_name=r.version.name,
        model_version=r.version.version,
        previous_version=r.previous.version if r.previous else None,
        state=state,
        stage=r.stage,
        stages=len(r.stages),
        agents=r.agents if agents is None else agents,
        reason=reason[:4000],
        evidence=evidence or {},
        request_id=r.request_id,
        actor=r.actor,
        progress=progress,
    )
