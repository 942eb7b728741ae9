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

The site has a second line of another product (:mod:`training.loop.second_line`: the simulated tile line, its
own champion and agent). It shows the products stay apart: each agent decides only with its product's models,
and a ``fleet`` deployment of the plate's champion reaches the tile agent, which refuses it (counted in its
heartbeat) and keeps serving its own model.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from factoryloop.kafka import EventProducer
from factoryloop.settings import KafkaSettings
from factoryloop.sim import Oracle, SimConfig
from training.datasets import DatasetStore
from training.ingest import Ingestor
from training.loop.line import agent_config, bootstrap_store, live_sim_config, start_agent
from training.loop.observer import FleetObserver
from training.loop.options import DemoOptions, DemoReport
from training.loop.second_line import (
    SecondSite,
    line_report,
    site_models,
    start_line_agent,
)
from training.loop.steps import DemoError, wait_for
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
__all__ = ["DemoError", "DemoOptions", "DemoReport", "run_demo"]


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
    site = None  # the second product's line
    if opts.second_line is not None:
        t = time.monotonic()
        site = SecondSite.bootstrap(opts.second_line, kafka, store, settings, registry, workdir, say)
        report.steps_s[f"train {site.line.product} champion"] = time.monotonic() - t

    agents: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}  # agent id -> (process, its log)
    stop = threading.Event()
    observer = FleetObserver(kafka, oracle, agent_id=opts.agent_id)
    supervisor = SimulatedSupervisor(kafka, oracle, product=opts.product)
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
        errors = [("observer", observer.error), ("supervisor", supervisor.error), ("triggers", watcher.error)]
        if site is not None:
            errors.append((f"observer of {site.line.agent_id}", site.observer.error))
        for name, err in errors:
            if err is not None:
                raise DemoError(f"{name} failed: {err}")
        for agent_id, (proc, log) in agents.items():
            if proc.poll() is not None:
                raise DemoError(f"the edge agent {agent_id} exited with {proc.returncode}; see {log}")

    try:
        config = agent_config(opts, kafka, live, model_dir / "model.onnx", workdir)
        agents[opts.agent_id] = (
            start_agent(config, workdir, settings.mlflow_tracking_uri),
            workdir / "agent.log",
        )
        if site is not None:
            line_dir = workdir / site.line.line_id
            proc = start_line_agent(site.line, site.champion, kafka, settings.mlflow_tracking_uri, line_dir)
            agents[site.line.agent_id] = (proc, line_dir / "agent.log")
            site.observer.start()
        observer.start()
        supervisor.start()
        ingest_thread.start()
        watch_thread.start()
        with EventProducer(kafka) as producer:
            publish(producer, deployment_for(champion, target=opts.line_id, reason="demo: first champion"))
            if site is not None:
                first2 = deployment_for(
                    site.champion.version, target=site.line.line_id, reason="demo: first champion"
                )
                publish(producer, first2)
        say(
            f"agent {opts.agent_id} serves v{champion.version}; "
            f"{opts.new_class} appears at live frame {opts.drift_after}"
        )
        if site is not None:
            report.cross_product = site.send_plate_model(kafka, champion, opts.product, deadline, check, say)

        t1 = time.monotonic()
        wait_for(
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
        wait_for(f"v{new} serving", lambda: new in observer.obs.serving_since, deadline, check)
        wait_for(
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
        products = [opts.product] + ([site.line.product] if site is not None else [])
        models = site_models(registry, products)
        with observer.lock:
            report.lines[opts.product] = line_report(opts, observer.obs, models, report.champion)
        if site is not None:
            report.lines[site.line.product], outcome = site.fill(models, deadline, check)
            report.cross_product += outcome
            say(f"products apart: {report.cross_product}")
        return report
    except DemoError as exc:
        done = ", ".join(f"{step} {s:.0f} s" for step, s in report.steps_s.items()) or "none"
        logs = ", ".join(str(log) for _, log in agents.values()) or str(workdir / "agent.log")
        raise DemoError(f"{exc} (steps done: {done}; agent logs {logs})") from exc
    finally:
        stop.set()
        for proc, _ in agents.values():
            proc.terminate()
        for proc, _ in agents.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        observer.stop()
        if site is not None:
            site.observer.stop()
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
