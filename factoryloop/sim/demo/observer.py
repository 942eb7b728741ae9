"""Watches what an agent reports (outcomes, heartbeats, agent events) and keeps the loop's numbers: recall
per model version against its line's simulated truth, when a new defect class was first captured, when each
model version started serving, the agent's frame -> reject-signal latency, and which models (by sha256) made
its decisions and which deployments it refused (the site's separation of products)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from factoryloop.schemas import AgentEvent, AgentEventType, Heartbeat, ModelRef, Outcome
from factoryloop.settings import KafkaSettings
from factoryloop.sim import Oracle
from factoryloop.sim.demo.background import BackgroundConsumer
from factoryloop.sim.demo.scoring import RecallScorer
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)


ModelKey = tuple[str, str, str | None]  # (name, version, sha256) of a ModelRef


def model_key(ref: ModelRef) -> ModelKey:
    return (ref.name, ref.version, ref.sha256)


@dataclass
class LoopObservations:
    outcomes: int = 0
    by_version: dict[str, RecallScorer] = field(default_factory=dict)
    first_seen: dict[str, datetime] = field(default_factory=dict)  # class -> first capture of a true defect
    serving_since: dict[str, datetime] = field(default_factory=dict)  # model version -> MODEL_LOADED time
    rejected: list[str] = field(default_factory=list)
    rejected_at: list[datetime] = field(default_factory=list)  # times of the MODEL_REJECTED events
    last_heartbeat: Heartbeat | None = None
    max_frame_index: int = -1
    models: dict[ModelKey, int] = field(default_factory=dict)  # outcomes per model that decided them
    heartbeat_models: set[ModelKey] = field(default_factory=set)  # models the heartbeats said were serving
    products: dict[str, int] = field(default_factory=dict)  # outcomes per Outcome.product ("" = not said)
    decided: list[tuple[datetime, str | None]] = field(default_factory=list)  # (captured_at, model sha256)


def observe(obs: LoopObservations, oracle: Oracle, event: object, agent_id: str | None = None) -> None:
    """Add one event of the heartbeats or outcomes topic; events of agents other than ``agent_id`` (when
    given) are ignored: each line of the site is judged against its own simulated truth."""
    if agent_id is not None and getattr(event, "agent_id", agent_id) != agent_id:
        return
    if isinstance(event, Outcome) and not event.shadow:
        obs.outcomes += 1
        key = model_key(event.model)
        obs.models[key] = obs.models.get(key, 0) + 1
        obs.products[event.product or ""] = obs.products.get(event.product or "", 0) + 1
        obs.decided.append((event.captured_at, event.model.sha256))
        scorer = obs.by_version.setdefault(event.model.version, RecallScorer(oracle))
        scorer.add(event)
        if event.source_frame_index is not None:
            obs.max_frame_index = max(obs.max_frame_index, event.source_frame_index)
            for name in oracle.truth(event.source_frame_index).class_names:
                if name not in obs.first_seen or event.captured_at < obs.first_seen[name]:
                    obs.first_seen[name] = event.captured_at
    elif isinstance(event, AgentEvent) and event.model is not None:
        if event.type is AgentEventType.MODEL_LOADED:
            obs.serving_since.setdefault(event.model.version, event.ts)
        elif event.type is AgentEventType.MODEL_REJECTED:
            obs.rejected.append(f"{event.model.name} v{event.model.version}: {event.detail}")
            obs.rejected_at.append(event.ts)
    elif isinstance(event, Heartbeat):
        obs.last_heartbeat = event
        if event.model is not None:
            obs.heartbeat_models.add(model_key(event.model))


class FleetObserver(BackgroundConsumer):
    """A background consumer (its own group, from the latest offsets) feeding :class:`LoopObservations` with
    what ``agent_id`` reports (every agent when None)."""

    def __init__(self, kafka: KafkaSettings, oracle: Oracle, agent_id: str | None = None) -> None:
        self.kafka = kafka
        self.oracle = oracle
        self.agent_id = agent_id
        self.obs = LoopObservations()
        name = f"observer-{agent_id}" if agent_id else "fleet-observer"
        super().__init__(kafka, [TopicRole.OUTCOMES, TopicRole.HEARTBEATS], "loop-observer", name)

    def handle(self, event: object) -> None:
        observe(self.obs, self.oracle, event, self.agent_id)

    def recall(self, version: str, class_name: str) -> tuple[float | None, int]:
        with self.lock:
            scorer = self.obs.by_version.get(version)
            if scorer is None or class_name not in scorer.per_class:
                return None, 0
            stat = scorer.per_class[class_name]
            return stat.recall, stat.total
