"""The demo's trainer: the same :class:`~training.service.TrainerService` as ``factoryloop train watch``
(ingest, the ``new_labels`` trigger, retrain, gate, and the rollout controller that canaries what the gate
promotes), run in a thread, with a rollout policy sized for the demo; and :class:`RolloutLog`, which reads
what the controller did from the rollouts topic (the demo decides nothing: it waits for the rollout's end)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from factoryloop.schemas import RolloutEvent, RolloutState
from factoryloop.settings import KafkaSettings
from factoryloop.sim.demo.background import BackgroundConsumer
from factoryloop.sim.demo.options import DemoOptions
from factoryloop.topics import TopicRole
from training.datasets import DatasetStore
from training.rollout.controller import RolloutController
from training.rollout.policy import AgentsStage, AllStage, Judge, RolloutPolicies, RolloutPolicy
from training.service import TrainerService
from training.settings import TrainSettings
from training.triggers import NewLabelsTriggerConfig, TriggersConfig

logger = logging.getLogger(__name__)
ENDED = frozenset({RolloutState.FULL, RolloutState.ROLLED_BACK, RolloutState.HALTED})


def demo_policy(opts: DemoOptions) -> RolloutPolicies:
    """One agent of the plate line first, then all of them, each stage watched ``canary_window_s``.

    The judge is the production one with three limits set for this line: the defect rate may rise by the
    new class's rate (the drift raised the line's true defect rate that much, and the champion misses all of
    it); reviewers may override up to half the canary's reviewed outcomes (the small model is "corrected"
    whenever a box misses IoU 0.5, the champion more often than the challenger); p99 latency up to 3 x the
    champion's on the same agent or 1 s (a shared 2-core box, not a line PC). New errors and refused models
    fail it at once.
    """
    judge = Judge(
        max_errors=0,
        max_latency_p99_ms=1000.0,
        max_latency_p99_ratio=3.0,
        max_defect_rate_jump=min(1.0, opts.new_class_rate),
        max_override_rate=0.5,
        min_outcomes=20,
        min_reviews=10,
    )
    stages = (AgentsStage(count=1), AllStage())
    return RolloutPolicies(default=RolloutPolicy(window_s=opts.canary_window_s, stages=stages, judge=judge))


def demo_triggers(opts: DemoOptions) -> TriggersConfig:
    """The retrain starts when the dataset store holds ``reviews_to_retrain`` reviews with the new class."""
    wanted = NewLabelsTriggerConfig(min_labels=opts.reviews_to_retrain, classes=(opts.new_class,))
    return TriggersConfig(triggers=(wanted,), check_every_s=1.0)


class DemoTrainer:
    """The trainer service in a background thread; :attr:`error` holds what stopped it."""

    def __init__(self, store: DatasetStore, settings: TrainSettings, opts: DemoOptions) -> None:
        self.service = TrainerService(store, settings, demo_triggers(opts), policies=demo_policy(opts))
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trainer", daemon=True)

    @property
    def controller(self) -> RolloutController:
        return self.service.controller

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self.service.run(self._stop)
        except Exception as exc:  # thread boundary: the demo raises it
            self.error = exc
            logger.exception("the demo's trainer stopped")

    def stop(self, timeout_s: float = 60.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)


@dataclass(frozen=True)
class Transition:
    at: datetime
    state: RolloutState
    version: str
    stage: int
    stages: int
    agents: tuple[str, ...]
    reason: str
    evidence: dict[str, float]

    def describe(self, t0: datetime | None = None) -> str:
        when = f"+{(self.at - t0).total_seconds():.0f} s" if t0 is not None else f"{self.at:%H:%M:%S}"
        who = ", ".join(self.agents) or "-"
        return f"{when} v{self.version} {self.state.value} (stage {self.stage + 1}/{self.stages}) on {who}"


class RolloutLog(BackgroundConsumer):
    """Every RolloutEvent of ``product`` on the rollouts topic, in order (a background consumer)."""

    def __init__(self, kafka: KafkaSettings, product: str) -> None:
        self.product = product
        self.events: list[Transition] = []
        super().__init__(kafka, [TopicRole.ROLLOUTS], "demo-rollouts", "rollout-log")

    def handle(self, event: object) -> None:
        e = event
        if isinstance(e, RolloutEvent) and e.product == self.product:
            self.events.append(
                Transition(e.ts, e.state, e.model_version, e.stage, e.stages, e.agents, e.reason, e.evidence)
            )

    def of(self, version: str) -> list[Transition]:
        with self.lock:
            return [t for t in self.events if t.version == version]

    def ended(self, not_version: str) -> Transition | None:
        """The first finished rollout of a version other than ``not_version`` (the bootstrap champion)."""
        with self.lock:
            return next((t for t in self.events if t.version != not_version and t.state in ENDED), None)
