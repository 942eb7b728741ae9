"""Watches what the fleet reports (outcomes, heartbeats, agent events) and keeps the loop's numbers:
recall per model version against the simulator's truth, when a new defect class was first captured, when
each model version started serving, and the agents' frame -> reject-signal latency."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from factoryloop.kafka import TypedConsumer
from factoryloop.schemas import AgentEvent, AgentEventType, Heartbeat, Outcome
from factoryloop.settings import KafkaSettings
from factoryloop.sim import Oracle
from factoryloop.topics import TopicRole
from training.loop.scoring import RecallScorer

logger = logging.getLogger(__name__)


@dataclass
class LoopObservations:
    outcomes: int = 0
    by_version: dict[str, RecallScorer] = field(default_factory=dict)
    first_seen: dict[str, datetime] = field(default_factory=dict)  # class -> first capture of a true defect
    serving_since: dict[str, datetime] = field(default_factory=dict)  # model version -> MODEL_LOADED time
    rejected: list[str] = field(default_factory=list)
    last_heartbeat: Heartbeat | None = None
    max_frame_index: int = -1


class FleetObserver:
    """A background consumer (its own group, from the latest offsets) feeding :class:`LoopObservations`."""

    def __init__(self, kafka: KafkaSettings, oracle: Oracle) -> None:
        self.kafka = kafka
        self.oracle = oracle
        self.obs = LoopObservations()
        self.lock = threading.Lock()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-observer", daemon=True)
        roles = [TopicRole.OUTCOMES, TopicRole.HEARTBEATS]
        self._consumer = TypedConsumer(kafka, roles, f"loop-observer-{uuid.uuid4().hex[:8]}")

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        self._consumer.close()

    def _observe(self, event: object) -> None:
        obs = self.obs
        if isinstance(event, Outcome) and not event.shadow:
            obs.outcomes += 1
            scorer = obs.by_version.setdefault(event.model.version, RecallScorer(self.oracle))
            scorer.add(event)
            if event.source_frame_index is not None:
                obs.max_frame_index = max(obs.max_frame_index, event.source_frame_index)
                for name in self.oracle.truth(event.source_frame_index).class_names:
                    if name not in obs.first_seen or event.captured_at < obs.first_seen[name]:
                        obs.first_seen[name] = event.captured_at
        elif isinstance(event, AgentEvent) and event.model is not None:
            if event.type is AgentEventType.MODEL_LOADED:
                obs.serving_since.setdefault(event.model.version, event.ts)
            elif event.type is AgentEventType.MODEL_REJECTED:
                obs.rejected.append(f"v{event.model.version}: {event.detail}")
        elif isinstance(event, Heartbeat):
            obs.last_heartbeat = event

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for record in self._consumer.poll(timeout_ms=500):
                    with self.lock:
                        self._observe(record.event)
        except Exception as exc:  # thread boundary
            self.error = exc
            logger.exception("fleet observer stopped")

    def recall(self, version: str, class_name: str) -> tuple[float | None, int]:
        with self.lock:
            scorer = self.obs.by_version.get(version)
            if scorer is None or class_name not in scorer.per_class:
                return None, 0
            stat = scorer.per_class[class_name]
            return stat.recall, stat.total
