"""The fleet as the heartbeats tell it: which agents serve which product on which line, and what they run.

The rollout controller's stages are resolved against this view: an agent counts once it has sent a heartbeat
that names its product, and stops counting after ``stale_s`` without one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from factoryloop.schemas import FLEET_KEY, Heartbeat
from factoryloop.schemas.rollouts import ShadowAsk
from training.errors import RolloutError
from training.rollout.policy import (
    AgentsStage,
    AllStage,
    FractionStage,
    LinesStage,
    RolloutPolicy,
    ShadowStage,
)


@dataclass(frozen=True, slots=True)
class AgentSeen:
    agent_id: str
    line_id: str
    product: str | None
    model_name: str | None
    model_version: str | None
    seen_at: float  # monotonic


class FleetView:
    def __init__(self, stale_s: float = 120.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.stale_s = stale_s
        self._clock = clock
        self._agents: dict[str, AgentSeen] = {}

    def observe(self, hb: Heartbeat) -> None:
        name, version = (hb.model.name, hb.model.version) if hb.model is not None else (None, None)
        self._agents[hb.agent_id] = AgentSeen(
            hb.agent_id, hb.line_id, hb.product, name, version, self._clock()
        )

    def agents(self, product: str, target: str = FLEET_KEY) -> list[AgentSeen]:
        """Live agents of ``product`` (on line ``target`` unless it is the fleet), sorted by id."""
        now = self._clock()
        return sorted(
            (
                a
                for a in self._agents.values()
                if a.product == product
                and now - a.seen_at <= self.stale_s
                and target in (FLEET_KEY, a.line_id)
            ),
            key=lambda a: a.agent_id,
        )


def resolve_stages(policy: RolloutPolicy, agents: Sequence[AgentSeen]) -> list[tuple[str, ...]]:
    """The cumulative agent set of each stage: every stage serves at least one agent more than the one
    before (stages that would add nobody are dropped); the last stage is every agent (``()`` = all)."""
    ids = [a.agent_id for a in agents]
    out: list[tuple[str, ...]] = []
    served: set[str] = set()
    for stage in policy.stages:
        if isinstance(stage, AllStage):
            break
        if isinstance(stage, ShadowStage):
            continue
        if isinstance(stage, AgentsStage):
            wanted = set(stage.agents) & set(ids) if stage.agents else set(ids[: stage.count])
        elif isinstance(stage, FractionStage):
            wanted = set(ids[: max(1, math.ceil(stage.fraction * len(ids)))])
        else:
            assert isinstance(stage, LinesStage)
            wanted = {a.agent_id for a in agents if a.line_id in stage.lines}
        new = served | wanted
        if len(new) > len(served) and len(new) < len(ids):
            served = new
            out.append(tuple(sorted(served)))
    out.append(())  # the last stage: every agent of the product
    return out


def resolve_shadow_stages(
    policy: RolloutPolicy, agents: Sequence[AgentSeen]
) -> list[tuple[tuple[str, ...], float]]:
    """The agents and sample rate of each shadow stage (they come first): named agents that are live, the
    first ``count`` by id, or ``fraction`` of them (at least one). Not cumulative: a shadow stage names where
    the challenger runs beside the champion. A stage with no agent, or the same as the one before, is
    dropped."""
    ids = [a.agent_id for a in agents]
    out: list[tuple[tuple[str, ...], float]] = []
    for stage in policy.stages:
        if not isinstance(stage, ShadowStage):
            break
        if stage.agents:
            wanted = tuple(i for i in ids if i in stage.agents)
        elif stage.count is not None:
            wanted = tuple(ids[: stage.count])
        else:
            wanted = tuple(ids[: max(1, math.ceil((stage.fraction or 0.0) * len(ids)))])
        if wanted and (not out or out[-1] != (wanted, stage.sample_rate)):
            out.append((wanted, stage.sample_rate))
    return out


def asked_shadow_stages(
    ask: ShadowAsk, policy: RolloutPolicy, agents: Sequence[AgentSeen], product: str
) -> list[tuple[tuple[str, ...], float]]:
    """The shadow stage an engineer asked for (``RolloutRequest.shadow``): the named agents, each live
    (:class:`RolloutError` names those that are not), or the policy's shadow stages, else the first live
    agent; at the asked sample rate."""
    ids = [a.agent_id for a in agents]
    if not ids:
        raise RolloutError(f"no live agent of {product} to run the shadow on (no heartbeat naming it lately)")
    if ask.agents:
        missing = sorted(set(ask.agents) - set(ids))
        if missing:
            raise RolloutError(
                f"{', '.join(missing)}: not live agent(s) of {product} (live: {', '.join(ids)}); "
                "name live agents or leave agents out"
            )
        return [(tuple(i for i in ids if i in ask.agents), ask.sample_rate)]
    stages = [a for a, _ in resolve_shadow_stages(policy, agents)] or [(ids[0],)]
    return [(a, ask.sample_rate) for a in stages]
