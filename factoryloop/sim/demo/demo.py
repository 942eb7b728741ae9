"""The closed loop on the simulated line, end to end, with real parts (Kafka, MLflow, ONNX, the edge agents,
the trainer service).

1. Bootstrap: render frames of the line *before* the drift (no cracks), store them with their ground truth,
   train the first model, register it, and let the gate make it champion.
2. Serve: start the plate line's edge agents (two stations of one line, each its own camera) on the live line,
   whose drift makes a new defect class (crack) appear; the rollout controller deploys the champion to them.
3. Review: the defect API runs (its sink builds the review queue); a simulated supervisor
   (:mod:`factoryloop.sim.supervisor`) takes the queue in priority order through the API and answers with the
   line's truth, until its review budget is spent.
4. The trainer - the same :class:`~training.service.TrainerService` as ``factoryloop train watch``, in a
   thread - does the rest with no demo code deciding: ingest, the ``new_labels`` trigger once enough reviewed
   cracks are stored, the fine-tune from the champion, the gate, and the rollout controller's canary on one
   agent, widened to the line, full (or rolled back). The demo waits for the rollout's end on the rollouts
   topic.
5. Measure: crack recall of the champion vs the new model on the live stream, the rollout's stages, and the
   time from the first crack to the fixed model serving on every agent.

The site has a second line of another product (:mod:`factoryloop.sim.demo.second_line`: the simulated tile
line, its own champion and agent). It shows the products stay apart: each agent decides only with its
product's models, the plate's rollouts (target ``fleet``) are skipped by the tile agent, and the plate's
champion sent to the tile line by mistake is refused by its agent (counted in its heartbeat), which keeps
serving its own model.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from factoryloop.schemas import RolloutAction, RolloutRequest, RolloutState
from factoryloop.settings import KafkaSettings
from factoryloop.sim import SimConfig
from factoryloop.sim.demo.api import DemoApi, start_api
from factoryloop.sim.demo.line import bootstrap_store, live_sim_config
from factoryloop.sim.demo.options import DemoOptions, DemoReport
from factoryloop.sim.demo.plate import PlateAgent, plate_agents
from factoryloop.sim.demo.report import fill_report
from factoryloop.sim.demo.second_line import SecondSite, line_report, site_models, start_line_agent
from factoryloop.sim.demo.steps import DemoError, wait_for
from factoryloop.sim.demo.trainer import DemoTrainer, RolloutLog
from factoryloop.sim.supervisor import ApiSupervisor
from training.datasets import DatasetStore
from training.pipeline import retrain
from training.registry import CHAMPION, ModelRegistry
from training.rollout.controller import RolloutController
from training.settings import TrainSettings

logger = logging.getLogger(__name__)
Say = Callable[[str], None]
__all__ = ["DemoError", "DemoOptions", "DemoReport", "run_demo"]


def _deploy_now(controller: RolloutController, product: str, version: str, line_id: str) -> None:
    """The bootstrap champion to its line at once (no canary: there is nothing to compare it with)."""
    controller.submit(
        RolloutRequest(
            request_id=f"demo-{uuid.uuid4().hex[:12]}",
            product=product,
            action=RolloutAction.DEPLOY,
            model_version=version,
            staged=False,
            target=line_id,
            requested_by="demo",
            reason="demo: first champion",
        )
    )


def start_demo_api(kafka: KafkaSettings, settings: TrainSettings, workdir: Path) -> DemoApi:
    """The demo's defect API for ``workdir`` (its product catalog is the demo's dataset store's): started by
    :func:`run_demo` itself, or by a caller that keeps it running afterwards (``factoryloop demo run``)."""
    products = _store(workdir).products.root
    return start_api(kafka, settings.mlflow_tracking_uri, products, workdir / "api")


def _store(workdir: Path) -> DatasetStore:
    return DatasetStore(workdir / "datasets")


def run_demo(
    opts: DemoOptions,
    kafka: KafkaSettings,
    settings: TrainSettings,
    sim: SimConfig,
    workdir: Path,
    say: Say = logger.info,
    api: DemoApi | None = None,
) -> DemoReport:
    """The closed loop (module docstring). ``api``: a demo API started by the caller (who stops it), else
    one started and stopped here."""
    report = DemoReport()
    deadline = time.monotonic() + opts.timeout_s
    update: dict[str, object] = {"kafka": kafka}
    if settings.max_train_images is None or settings.max_train_images > opts.max_train_images:
        update["max_train_images"] = opts.max_train_images
    settings = settings.model_copy(update=update)
    workdir.mkdir(parents=True, exist_ok=True)
    store = _store(workdir)
    registry = ModelRegistry(settings.mlflow_tracking_uri, settings.registered_model_prefix)
    live = live_sim_config(sim, opts)

    t0 = time.monotonic()
    bootstrap_store(store, sim, opts, say)
    brought = opts.champion_weights
    why = "bootstrap" if brought is None else f"bootstrap: {brought.name} registered"
    first = retrain(opts.product, store, settings, reason=why, epochs=opts.epochs_bootstrap, weights=brought)
    report.steps_s["train champion" if brought is None else "register champion"] = time.monotonic() - t0
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

    plate = plate_agents(opts, live, kafka, workdir)
    tile_proc = None
    trainer = DemoTrainer(store, settings, opts)
    rollouts = RolloutLog(kafka, opts.product)
    own_api = api is None
    api = api or start_demo_api(kafka, settings, workdir)
    supervisor = ApiSupervisor(
        api.url,
        api.token,
        {a.spec.seed: a.oracle for a in plate},
        line_id=opts.line_id,
        budget=opts.review_budget,
        pace_s=opts.review_pace_s,
    )

    def check() -> None:
        errors = [("supervisor", supervisor.error), ("trainer", trainer.error)]
        errors.append(("rollout log", rollouts.error))
        errors += [(f"observer of {a.agent_id}", a.observer.error) for a in plate]
        if site is not None:
            errors.append((f"observer of {site.line.agent_id}", site.observer.error))
        for name, err in errors:
            if err is not None:
                raise DemoError(f"{name} failed: {err}")
        procs = [(a.agent_id, a.proc, a.log) for a in plate] + [("API", api.proc, api.log)]
        if site is not None:
            procs.append((site.line.agent_id, tile_proc, workdir / site.line.line_id / "agent.log"))
        for agent_id, proc, log in procs:
            if proc is not None and proc.poll() is not None:
                raise DemoError(f"{agent_id} exited with {proc.returncode}; see {log}")
        if not report.reviews_at_retrain and opts.product in trainer.service.queue.running():
            _reviews_at_retrain(report, supervisor)

    try:
        rollouts.start()
        trainer.start()
        for a in plate:
            a.start(kafka, model_dir / "model.onnx", settings.mlflow_tracking_uri)
        if site is not None:
            line_dir = workdir / site.line.line_id
            tile_proc = start_line_agent(
                site.line, site.champion, kafka, settings.mlflow_tracking_uri, line_dir
            )
            site.observer.start()
        supervisor.start()
        _deploy_now(trainer.controller, opts.product, champion.version, opts.line_id)
        if site is not None:
            _deploy_now(
                trainer.controller, site.line.product, site.champion.version.version, site.line.line_id
            )
        say(
            f"agents {', '.join(a.agent_id for a in plate)} of {opts.line_id} serve v{champion.version}; "
            f"{opts.new_class} appears at live frame {opts.drift_after}; the trainer (ingest, trigger at "
            f"{opts.reviews_to_retrain} reviews with {opts.new_class}, retrain, gate, canary) runs by "
            f"itself; the supervisor reviews through {api.url} (budget {opts.review_budget})"
        )
        if site is not None:
            report.cross_product = site.send_plate_model(kafka, champion, opts.product, deadline, check, say)

        t1 = time.monotonic()
        wait_for(
            "the trainer's rollout of a retrained model to end",
            lambda: rollouts.ended(champion.version) is not None,
            deadline,
            check,
        )
        ended = rollouts.ended(champion.version)
        assert ended is not None
        new = ended.version
        report.steps_s["reviews + retrain + gate + rollout"] = time.monotonic() - t1
        _from_registry(report, registry, opts.product, new)
        _stages(report, rollouts, new, plate, opts.new_class, say)
        report.rollout = f"{ended.state.value} {ended.reason}".strip()
        say(f"rollout: {report.rollout}")
        if ended.state is not RolloutState.FULL:
            # The fleet is back on the champion: the new model will never be scored on the live stream.
            raise DemoError(f"the canary of {report.challenger} did not go to full: {report.rollout}")
        wait_for(
            f"v{new} serving on every plate agent",
            lambda: all(a.serving_since(new) is not None for a in plate),
            deadline,
            check,
        )
        last = max(t for t in (a.serving_since(new) for a in plate) if t is not None)
        with supervisor.lock:
            report.reviews_before_serving = supervisor.log.before(last)
        primary = plate[0].observer
        wait_for(
            f"{opts.frames_after_swap} frames scored on v{new}",
            lambda: (
                primary.obs.by_version.get(new) is not None
                and primary.obs.by_version[new].scored >= opts.frames_after_swap
            ),
            deadline,
            check,
        )
        fill_report(report, plate, opts, new)
        with supervisor.lock:
            report.reviews = dict(supervisor.log.actions)
            report.reviews_by_class = dict(supervisor.log.by_class)
        say(
            f"reviews: {sum(report.reviews.values())} of the budget {opts.review_budget} {report.reviews}; "
            f"at the retrain's start {report.reviews_at_retrain}; {report.reviews_before_serving} before "
            f"v{new} served on every agent; first {opts.new_class} -> v{new} serving: {report.serving_s} s"
        )
        products = [opts.product] + ([site.line.product] if site is not None else [])
        models = site_models(registry, products)
        with primary.lock:
            report.lines[opts.product] = line_report(opts, primary.obs, models, report.champion)
        if site is not None:
            report.lines[site.line.product], outcome = site.fill(models, deadline, check)
            report.cross_product += outcome
            say(f"products apart: {report.cross_product}")
        return report
    except DemoError as exc:
        done = ", ".join(f"{step} {s:.0f} s" for step, s in report.steps_s.items()) or "none"
        logs = ", ".join(str(a.log) for a in plate)
        raise DemoError(f"{exc} (steps done: {done}; agent logs {logs})") from exc
    finally:
        trainer.stop()
        procs = [a.proc for a in plate] + [tile_proc]
        for proc in procs:
            if proc is not None:
                proc.terminate()
        for proc in procs:
            if proc is not None:
                try:
                    proc.wait(30)
                except Exception:  # subprocess.TimeoutExpired
                    proc.kill()
        for a in plate:
            a.observer.stop()
        if site is not None:
            site.observer.stop()
        supervisor.stop()
        rollouts.stop()
        if own_api:
            api.stop()


def _reviews_at_retrain(report: DemoReport, supervisor: ApiSupervisor) -> None:
    with supervisor.lock:
        report.reviews_at_retrain = {"total": supervisor.log.total, **supervisor.log.by_class}


def _from_registry(report: DemoReport, registry: ModelRegistry, product: str, new: str) -> None:
    """What the trainer did, as recorded in MLflow: the challengers the gate refused, the one it passed."""
    for listed in registry.versions(product):
        v = registry.get(product, listed.version)
        if v.tags.get("gate.decision") == "refuse":
            report.refused.append(f"v{v.version}: {v.tags.get('gate.reason', '?')}")
    v = registry.get(product, new)
    report.challenger = f"v{new}"
    report.gate = v.tags.get("gate.reason", "not gated")
    report.trigger = v.tags.get("reason", "")
    report.edge_model = f"{v.precision}: {v.tags.get('int8.reason', 'INT8 export off')}"


def _stages(
    report: DemoReport, rollouts: RolloutLog, new: str, plate: list[PlateAgent], new_class: str, say: Say
) -> None:
    """The rollout's transitions (which agents, when), timed from the first outcome of the new class."""
    seen = [t for t in (a.first_seen(new_class) for a in plate) if t is not None]
    t0 = min(seen) if seen else None
    steps = rollouts.of(new)
    report.stages = [t.describe(t0) for t in steps]
    for line in report.stages:
        say(f"rollout stage: {line}")
    canary = next((t for t in steps if t.state is RolloutState.CANARY), None)
    back = next((t for t in steps if t.state is RolloutState.ROLLED_BACK), None)
    if canary is not None and back is not None:
        report.canary_to_rollback_s = (back.at - canary.at).total_seconds()
