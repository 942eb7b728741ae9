"""The closed loop on the simulated line, end to end, with real parts (Kafka, MLflow, ONNX, the edge agent).

1. Bootstrap: render frames of the line *before* the drift (no cracks), store them with their ground truth,
   train the first model, register it, and let the gate make it champion.
2. Serve: start an edge agent process on the live line, whose drift makes a new defect class (crack) appear;
   deploy the champion to it.
3. Review: a simulated supervisor reviews every frame the agent sends (confirm / correct / reject, from the
   line's truth); the ingest consumer turns frames, outcomes and reviews into the dataset store.
4. Retrain: once enough reviewed cracks are in, fine-tune from the champion, gate it against the champion on
   the golden set and on recent reviewed data, and roll it out (canary on the agent, then the line).
5. Measure: crack recall of the champion vs the new model on the live stream, and the loop timings.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from factoryloop.kafka import EventProducer
from factoryloop.settings import KafkaSettings
from factoryloop.sim import Oracle, SimConfig
from training.datasets import DatasetStore
from training.errors import TrainingError
from training.ingest import Ingestor
from training.loop.line import agent_config, bootstrap_store, live_sim_config, start_agent
from training.loop.observer import FleetObserver
from training.loop.supervisor import SimulatedSupervisor
from training.pipeline import RetrainOutcome, retrain
from training.registry import CHAMPION, ModelRegistry, RegisteredVersion
from training.rollout import CanaryPolicy, RolloutResult, deployment_for, publish, run_canary
from training.settings import TrainSettings
from training.triggers import (
    NewLabelsTriggerConfig,
    RetrainQueue,
    TriggerEvaluator,
    TriggersConfig,
    TriggerWatcher,
    build_triggers,
)
from training.triggers.watcher import utcnow

logger = logging.getLogger(__name__)
Say = Callable[[str], None]


class DemoError(TrainingError):
    """The demo could not complete a step; the message says which and why."""


@dataclass(frozen=True)
class DemoOptions:
    product: str = "demo_plate"
    line_id: str = "line-1"
    station_id: str = "st-1"
    agent_id: str = "agent-1"
    new_class: str = "crack"
    seed: int = 11
    bootstrap_frames: int = 240  # ground-truth frames before the drift, to train the first champion
    live_start: int = 100_000  # the live line starts far from the bootstrap frames (never trained on)
    drift_after: int = 60  # live frames before the new class appears
    new_class_rate: float = 0.35
    fps: float = 10.0
    pass_sample_rate: float = 0.5  # share of PASS frames the agent sends (a missed crack is a PASS)
    reviews_to_retrain: int = 100  # reviews with the new class before the trigger fires (40 were too few)
    frames_after_swap: int = 150  # live frames to score the new model on
    canary_window_s: float = 20.0
    timeout_s: float = 1800.0
    epochs_bootstrap: int | None = None
    epochs_finetune: int | None = None
    max_retrains: int = 2  # a challenger the gate refuses is followed by one more try on more reviews
    # The agent keeps sending frames during a retrain (~5/s): a second retrain would train on 5x the frames.
    max_train_images: int = 500


@dataclass
class DemoReport:
    champion: str = ""
    challenger: str = ""
    gate: str = ""
    edge_model: str = ""  # which file of the promoted challenger the agents run, and why (INT8 check)
    trigger: str = ""
    refused: list[str] = field(default_factory=list)  # challengers the gate refused before one passed
    rollout: str = ""
    recall_before: float | None = None
    recall_after: float | None = None
    support_before: int = 0
    support_after: int = 0
    other_recall_before: dict[str, float | None] = field(default_factory=dict)
    other_recall_after: dict[str, float | None] = field(default_factory=dict)
    reject_latency_ms: tuple[float | None, float | None] = (None, None)
    seen_to_serving_s: float | None = None
    steps_s: dict[str, float] = field(default_factory=dict)
    reviews: dict[str, int] = field(default_factory=dict)


def _wait(what: str, done: Callable[[], bool], deadline: float, check: Callable[[], None]) -> None:
    while not done():
        check()
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        time.sleep(0.5)


def run_demo(
    opts: DemoOptions,
    kafka: KafkaSettings,
    settings: TrainSettings,
    sim: SimConfig,
    workdir: Path,
    say: Say = logger.info,
) -> DemoReport:
    report = DemoReport()
    deadline = time.monotonic() + opts.timeout_s
    if settings.max_train_images is None or settings.max_train_images > opts.max_train_images:
        settings = settings.model_copy(update={"max_train_images": opts.max_train_images})
    workdir.mkdir(parents=True, exist_ok=True)
    store = DatasetStore(workdir / "datasets")
    registry = ModelRegistry(settings.mlflow_tracking_uri, settings.registered_model_prefix)
    live = live_sim_config(sim, opts)
    oracle = Oracle(live)

    t0 = time.monotonic()
    bootstrap_store(store, sim, opts, say)
    first = retrain(opts.product, store, settings, reason="bootstrap", epochs=opts.epochs_bootstrap)
    report.steps_s["train champion"] = time.monotonic() - t0
    champion = registry.alias(opts.product, CHAMPION)
    if champion is None or first.decision is None or not first.decision.promote:
        raise DemoError(
            f"the first model was not promoted: {first.decision.reason if first.decision else '?'}"
        )
    report.champion = f"v{champion.version}"
    say(f"champion v{champion.version}: {first.decision.reason}")

    model_dir = registry.download(champion, workdir / f"champion-v{champion.version}")
    config = agent_config(opts, kafka, live, model_dir / "model.onnx", workdir)
    agent = start_agent(config, workdir, settings.mlflow_tracking_uri)
    stop = threading.Event()
    observer = FleetObserver(kafka, oracle)
    supervisor = SimulatedSupervisor(kafka, oracle)
    ingestor = Ingestor(store, kafka)
    ingest_thread = threading.Thread(target=ingestor.run, args=(stop,), name="ingest", daemon=True)
    # The retrain is started by the trainer's own trigger: N reviews whose true boxes include the new class.
    queue = RetrainQueue()
    wanted = NewLabelsTriggerConfig(min_labels=opts.reviews_to_retrain, classes=(opts.new_class,))
    evaluator = TriggerEvaluator(build_triggers(TriggersConfig(triggers=(wanted,)), utcnow()), queue)
    watcher = TriggerWatcher(
        kafka, evaluator, group_id=f"demo-triggers-{uuid.uuid4().hex[:8]}", check_every_s=1
    )
    watch_thread = threading.Thread(target=watcher.run, args=(stop,), name="triggers", daemon=True)

    def check() -> None:
        errors = (("observer", observer.error), ("supervisor", supervisor.error), ("triggers", watcher.error))
        for name, err in errors:
            if err is not None:
                raise DemoError(f"{name} failed: {err}")
        if agent.poll() is not None:
            raise DemoError(f"the edge agent exited with {agent.returncode}; see {workdir / 'agent.log'}")

    try:
        observer.start()
        supervisor.start()
        ingest_thread.start()
        watch_thread.start()
        with EventProducer(kafka) as producer:
            publish(producer, deployment_for(champion, target=opts.line_id, reason="demo: first champion"))
        say(
            f"agent {opts.agent_id} serves v{champion.version}; "
            f"{opts.new_class} appears at live frame {opts.drift_after}"
        )

        t1 = time.monotonic()
        _wait(
            f"the trigger ({wanted.min_labels} reviews with {opts.new_class})",
            lambda: bool(queue.waiting()),
            deadline,
            check,
        )
        request = queue.take(0)
        assert request is not None
        time.sleep(3.0)  # let the ingest consumer apply the last reviews
        report.steps_s["collect reviews"] = time.monotonic() - t1
        report.trigger = f"{request.trigger}: {request.reason}"
        say(
            f"supervisor reviewed {supervisor.reviewed} frames {supervisor.actions}; "
            f"{report.trigger}; retraining"
        )

        t2 = time.monotonic()
        second = _retrain_until_promoted(opts, store, settings, model_dir / "model.pt", report, queue, say)
        report.steps_s["retrain + gate"] = time.monotonic() - t2

        t3 = time.monotonic()
        overrides = sum(n for action, n in supervisor.actions.items() if action != "confirm")
        champion_override_rate = overrides / max(1, supervisor.reviewed)
        with observer.lock:
            hb = observer.obs.last_heartbeat
            champion_p99 = hb.latency_p99_ms if hb is not None else None
        baseline = _ChampionBaseline(champion_override_rate, champion_p99)
        rollout = _rollout(kafka, settings, opts, second.version, champion, registry, baseline)
        report.rollout = f"{rollout.outcome} {'; '.join(rollout.reasons)}".strip()
        report.steps_s["canary + rollout"] = time.monotonic() - t3
        say(f"rollout: {report.rollout}")
        if rollout.outcome != "full":
            # The fleet is back on the champion: v2 will never be scored on the live stream.
            raise DemoError(f"the canary of {report.challenger} did not go to full: {report.rollout}")
        new = second.version.version
        _wait(f"v{new} serving", lambda: new in observer.obs.serving_since, deadline, check)
        _wait(
            f"{opts.frames_after_swap} frames scored on v{new}",
            lambda: (
                observer.obs.by_version.get(new) is not None
                and observer.obs.by_version[new].scored >= opts.frames_after_swap
            ),
            deadline,
            check,
        )
        _fill(report, observer, opts, new)
        report.reviews = dict(supervisor.actions)
        return report
    except DemoError as exc:
        done = ", ".join(f"{step} {s:.0f} s" for step, s in report.steps_s.items()) or "none"
        raise DemoError(f"{exc} (steps done: {done}; agent log {workdir / 'agent.log'})") from exc
    finally:
        stop.set()
        agent.terminate()
        try:
            agent.wait(30)
        except subprocess.TimeoutExpired:
            agent.kill()
        observer.stop()
        supervisor.stop()
        ingest_thread.join(30)
        watch_thread.join(30)
        watcher.close()
        ingestor.close()


def _retrain_until_promoted(
    opts: DemoOptions,
    store: DatasetStore,
    settings: TrainSettings,
    champion_pt: Path,
    report: DemoReport,
    queue: RetrainQueue,
    say: Say,
) -> RetrainOutcome:
    """Fine-tune the champion; when the gate refuses the challenger, the fleet keeps the champion and the
    trigger's next request (more reviews by then) starts another try, up to ``opts.max_retrains``."""
    for attempt in range(1, opts.max_retrains + 1):
        out = retrain(
            opts.product,
            store,
            settings,
            reason=report.trigger,
            epochs=opts.epochs_finetune,
            model=str(champion_pt),
        )
        queue.done(opts.product)  # this retrain is over: the trigger's next request may be taken
        report.challenger = f"v{out.version.version}"
        report.gate = out.decision.reason if out.decision else "not gated"
        tags = out.version.tags
        report.edge_model = f"{out.version.precision}: {tags.get('int8.reason', 'INT8 export off')}"
        say(f"challenger v{out.version.version}: {report.gate}; edge file {report.edge_model}")
        if out.decision is not None and out.decision.promote:
            return out
        report.refused.append(f"v{out.version.version}: {report.gate}")
        waiting = queue.take(0)
        if attempt == opts.max_retrains or waiting is None:
            break
        report.trigger = f"{waiting.trigger}: {waiting.reason}"
        say(f"gate refused v{out.version.version}; the champion keeps serving; {report.trigger}; retraining")
    raise DemoError(f"the gate refused the fine-tuned model(s): {'; '.join(report.refused)}")


@dataclass(frozen=True)
class _ChampionBaseline:
    """How the champion did on the demo's agent before the canary: what the canary is compared with."""

    override_rate: float
    latency_p99_ms: float | None


def _rollout(
    kafka: KafkaSettings,
    settings: TrainSettings,
    opts: DemoOptions,
    version: RegisteredVersion,
    previous: RegisteredVersion,
    registry: ModelRegistry,
    baseline: _ChampionBaseline,
) -> RolloutResult:
    """Canary on the demo's agent, then the line. The canary is judged against the champion it replaces on
    the same box: it may not be overridden by reviewers more often (plus the configured allowance; a small
    model is corrected often, what matters is that the new one is not corrected more), nor be slower than
    twice the champion's p99 (the configured limit is the floor: a loaded CI box is slower than a line PC)."""
    max_override = min(1.0, max(settings.canary_max_override_rate, baseline.override_rate + 0.1))
    max_latency = max(settings.canary_max_latency_p99_ms, 2.0 * (baseline.latency_p99_ms or 0.0))
    policy = CanaryPolicy(
        window_s=opts.canary_window_s,
        max_errors=settings.canary_max_errors,
        max_latency_p99_ms=max_latency,
        max_defect_rate_jump=1.0,  # one agent: nothing to compare its defect rate with
        max_override_rate=max_override,
        min_outcomes=5,
        min_reviews=5,
    )
    return run_canary(
        kafka,
        version,
        previous,
        canary_agents=[opts.agent_id],
        policy=policy,
        target=opts.line_id,
        registry=registry,
        product=opts.product,
    )


def _fill(report: DemoReport, observer: FleetObserver, opts: DemoOptions, new: str) -> None:
    with observer.lock:
        obs = observer.obs
        # The champion served under its registry version, or as the agent's bootstrap file ("local") when the
        # deployment carried the model it already had: "before" is whatever served most before the swap.
        before = [v for v in obs.by_version if v != new]
        old = max(before, key=lambda v: obs.by_version[v].scored) if before else None
    report.recall_before, report.support_before = observer.recall(old, opts.new_class) if old else (None, 0)
    report.recall_after, report.support_after = observer.recall(new, opts.new_class)
    with observer.lock:
        if old is not None:
            before_summary = obs.by_version[old].summary()
            report.other_recall_before = {k: v for k, v in before_summary.items() if k != opts.new_class}
        after_summary = obs.by_version[new].summary()
        report.other_recall_after = {k: v for k, v in after_summary.items() if k != opts.new_class}
        hb = obs.last_heartbeat
        if hb is not None:
            report.reject_latency_ms = (hb.reject_latency_p50_ms, hb.reject_latency_p99_ms)
        seen, serving = obs.first_seen.get(opts.new_class), obs.serving_since.get(new)
        if seen is not None and serving is not None:
            report.seen_to_serving_s = (serving - seen).total_seconds()
