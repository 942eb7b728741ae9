"""Consumes the deployments topic (compacted, read from the start on every boot) and applies each
deployment that targets this agent, the newest per poll, unless it already serves. A ``fleet`` deployment of
another product is for that product's agents: ignored. One addressed to this agent (its line, or it as a
canary agent) with another product is refused, counted and reported: :meth:`DeploymentWatcher.handle`.
A later stage of a rollout that leaves this agent out (``ends_shadow``), or an ``end_shadow``, ends the shadow
of that model here; what the agent serves does not change."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from edge_agent.models.manager import ModelManager
from factoryloop.errors import KafkaUnavailableError
from factoryloop.kafka import TypedConsumer
from factoryloop.kafka.stall import StallCheck
from factoryloop.schemas import FLEET_KEY, Deployment, Strategy
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)


def _addressed(dep: Deployment) -> bool:
    """Whether ``dep`` names this agent's line or this agent (a canary), not just the whole fleet."""
    return dep.target != FLEET_KEY or dep.strategy is Strategy.CANARY


class DeploymentWatcher:
    def __init__(self, settings: KafkaSettings, manager: ModelManager, agent_id: str, line_id: str) -> None:
        self.settings = settings
        self.manager = manager
        self.agent_id = agent_id
        self.line_id = line_id
        self.seen: set[str] = set()
        self.stall_check_s = 30.0  # how often the consumer's lag is checked (factoryloop.kafka.stall)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deployments", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def handle(self, deployments: list[Deployment]) -> None:
        """Apply the newest deployment of this agent's product, and refuse (reported, counted) the newest of
        another product addressed to this agent: a deployment of product B never hides the line's deployment
        of product A that came with it, and an agent of A never serves B's model. B's ``fleet`` rollout (every
        agent of B: how the rollout controller ships a champion) is not addressed to an agent of A: skipped,
        not counted, so a multi-product site's refusal counts only show real mistakes."""
        mine = [d for d in deployments if d.applies_to(self.agent_id, self.line_id)]
        own = [d for d in mine if self.manager.accepts_product(d)]
        foreign = [d for d in mine if not self.manager.accepts_product(d) and _addressed(d)]
        latest = [max(group, key=lambda d: d.ts) for group in (own, foreign) if group]
        for dep in sorted(latest, key=lambda d: d.ts):
            if dep.deployment_id in self.seen or self.manager.is_current(dep):
                self.seen.add(dep.deployment_id)
                continue
            self.seen.add(dep.deployment_id)
            self.manager.apply(dep)  # refuses a deployment of another product, keeping the current model
        self._end_shadow(deployments, max((d.ts for d in own), default=None))

    def _end_shadow(self, deployments: list[Deployment], applied_at: datetime | None) -> None:
        """A later stage of the rollout whose shadow this agent runs that leaves it out (``ends_shadow``) ends
        that shadow, when it is newer than what this agent applied from the same poll."""
        shadow = self.manager.shadow
        if shadow is None:
            return
        ends = [
            d
            for d in deployments
            if d.ends_shadow_of(self.agent_id, self.line_id)
            and d.strategy is not Strategy.END_SHADOW
            and d.sha256 == shadow.model.ref.sha256
            and self.manager.accepts_product(d)
        ]
        newest = max(ends, key=lambda d: d.ts, default=None)
        if newest is not None and (applied_at is None or newest.ts >= applied_at):
            self.manager.end_shadow(newest)

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                consumer = TypedConsumer(
                    self.settings, [TopicRole.DEPLOYMENTS], group_id=None, auto_offset_reset="earliest"
                )
            except KafkaUnavailableError as exc:
                logger.warning("deployments: %s; retry in %.0fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            check = StallCheck(self.stall_check_s)
            try:
                while not self._stop.is_set():
                    records = consumer.poll(timeout_ms=500)
                    self.handle([r.event for r in records if isinstance(r.event, Deployment)])
                    if check.stalled(consumer.raw):
                        break  # opened again (from the start: what this agent serves is skipped)
            except Exception:
                logger.exception("deployments consumer failed; reconnecting")
                self._stop.wait(backoff)
            finally:
                consumer.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)
