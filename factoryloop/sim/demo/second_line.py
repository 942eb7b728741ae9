"""The site's second line: another product (the simulated tile line) beside the steel plate, with its own
agent process and its own champion, trained from scratch at bootstrap and deployed to its own line.

And what shows that the products stay apart: each agent's decisions come from its own product's models only
(by the sha256 of the model on every outcome); the plate's rollouts (target ``fleet``, product the plate's)
are skipped by the tile agent; and the plate's model sent to the tile line by mistake is refused by the tile
agent, counted in its heartbeat (``models_rejected``), while it keeps serving its own model.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from factoryloop.kafka import EventProducer
from factoryloop.schemas import Deployment
from factoryloop.settings import KafkaSettings
from factoryloop.sim import Oracle, SimConfig, preset
from factoryloop.sim.demo.line import LineSpec, agent_config, bootstrap_store, start_agent
from factoryloop.sim.demo.observer import FleetObserver, LoopObservations, ModelKey, model_key
from factoryloop.sim.demo.steps import DemoError, wait_for
from training.datasets import DatasetStore
from training.pipeline import retrain
from training.registry import CHAMPION, ModelRegistry, RegisteredVersion
from training.rollout import deployment_for, publish
from training.settings import TrainSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    Say = Callable[[str], None]


@dataclass(frozen=True)
class SecondLine:
    """The second product's line (a :class:`~factoryloop.sim.demo.line.LineSpec`), sized to add little
    time."""

    preset: str = "tile_line"  # factoryloop.sim preset of the line
    product: str = "demo_tile"
    line_id: str = "line-2"
    station_id: str = "st-2"
    agent_id: str = "agent-2"
    seed: int = 11
    bootstrap_frames: int = 160  # ground-truth frames of the line, to train its first champion from scratch
    # None: the scratch recipe's (cpu_fast, 24). On 160 frames, 80 held-out ones: 12 epochs gave mAP50-95 0.0,
    # 16 gave 0.006, 24 gave 0.265 (recall 0.42-0.88 per class).
    epochs_bootstrap: int | None = None
    live_start: int = 100_000  # the live line starts far from the bootstrap frames (never trained on)
    fps: float = 2.0  # a quiet line: the CPU stays with the plate's story (its agent, reviews, retrain)
    pass_sample_rate: float = 0.0  # nobody reviews this line in the demo: only FAIL/UNCERTAIN frames are sent


@dataclass(frozen=True)
class LineChampion:
    version: RegisteredVersion
    model: Path  # the champion's downloaded ONNX file: the model the line's agent starts with
    sim: SimConfig  # the line's simulator config (seeded), for the agent's source and the truth


def train_line_champion(
    line: SecondLine,
    store: DatasetStore,
    settings: TrainSettings,
    registry: ModelRegistry,
    workdir: Path,
    say: Say,
) -> LineChampion:
    """Bootstrap frames of the line into the store as its product, a first model from scratch, promoted by
    the gate (no champion yet), downloaded for the line's agent."""
    sim = preset(line.preset).model_copy(update={"seed": line.seed})
    bootstrap_store(store, sim, line, say)
    out = retrain(line.product, store, settings, reason="bootstrap", epochs=line.epochs_bootstrap)
    champion = registry.alias(line.product, CHAMPION)
    if champion is None or out.decision is None or not out.decision.promote:
        why = out.decision.reason if out.decision else "?"
        raise DemoError(f"the first model of {line.product} was not promoted: {why}")
    say(f"{line.product} champion v{champion.version}: {out.decision.reason}")
    model_dir = registry.download(champion, workdir / f"champion-v{champion.version}")
    return LineChampion(champion, model_dir / "model.onnx", sim)


def start_line_agent(
    line: LineSpec, champion: LineChampion, kafka: KafkaSettings, mlflow_uri: str, workdir: Path
) -> subprocess.Popen[bytes]:
    """The line's agent process, its files (line.yaml, agent.log, state, buffer) in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = agent_config(line, kafka, champion.sim, champion.model, workdir)
    return start_agent(config, workdir, mlflow_uri)


def send_to_line(kafka: KafkaSettings, version: RegisteredVersion, line_id: str, reason: str) -> Deployment:
    """Publish ``version`` (with its product) to the agents of ``line_id``, as a mistaken engineer would: the
    rollout controller, which knows each line's product, is bypassed on purpose."""
    with EventProducer(kafka) as producer:
        return publish(producer, deployment_for(version, target=line_id, reason=reason))


@dataclass(frozen=True)
class SiteModel:
    product: str
    label: str  # "demo_tile v1 fp32"


def site_models(registry: ModelRegistry, products: Iterable[str]) -> dict[str, SiteModel]:
    """Every registered version of the site's products by the sha256 of its files (fp32 ONNX, edge file)."""
    out: dict[str, SiteModel] = {}
    for product in products:
        for listed in registry.versions(product):
            v = registry.get(product, listed.version)  # with its tags
            if v.sha256:
                out[v.sha256] = SiteModel(product, f"{product} v{v.version} fp32")
            if v.edge_sha256 and v.edge_sha256 != v.sha256:
                out[v.edge_sha256] = SiteModel(product, f"{product} v{v.version} {v.precision}")
    return out


@dataclass
class LineReport:
    """One product's line as its agent reported it: which models decided, and what it refused."""

    product: str
    line_id: str
    agent_id: str
    champion: str = ""  # its first champion, "v1"
    serving: str = ""  # the model in its last heartbeat
    outcomes: int = 0
    products: dict[str, int] = field(default_factory=dict)  # outcomes per Outcome.product
    served: dict[str, int] = field(default_factory=dict)  # outcomes per model that decided them
    heartbeat_models: list[str] = field(default_factory=list)  # models its heartbeats said it served
    foreign: int = 0  # outcomes decided by a model that is not a version of the line's product
    refused: dict[str, int] = field(default_factory=dict)  # its heartbeat's models_rejected, per reason
    refusals: list[str] = field(default_factory=list)  # the MODEL_REJECTED events' details
    after_refusal: int = 0  # outcomes captured after its first refusal
    after_refusal_own: int = 0  # ... decided by a model of its own product
    recall: dict[str, float | None] = field(default_factory=dict)  # per class, the model that decided most


def _label(key: ModelKey, models: dict[str, SiteModel]) -> str:
    name, version, sha = key
    known = models.get(sha or "")
    return known.label if known else f"{name} {version} (not a model of the site's products)"


def line_report(
    line: LineSpec, obs: LoopObservations, models: dict[str, SiteModel], champion: str
) -> LineReport:
    """Summarise what the line's agent reported (call with the observer's lock held)."""

    def own(sha: str | None) -> bool:
        known = models.get(sha or "")
        return known is not None and known.product == line.product

    hb = obs.last_heartbeat
    report = LineReport(line.product, line.line_id, line.agent_id, champion=champion, outcomes=obs.outcomes)
    report.serving = _label(model_key(hb.model), models) if hb is not None and hb.model is not None else "n/a"
    report.products = dict(sorted(obs.products.items()))
    for key, n in sorted(obs.models.items(), key=lambda kv: -kv[1]):
        label = _label(key, models)
        report.served[label] = report.served.get(label, 0) + n
        report.foreign += 0 if own(key[2]) else n
    report.heartbeat_models = sorted({_label(k, models) for k in obs.heartbeat_models})
    report.refused = dict(hb.models_rejected) if hb is not None else {}
    report.refusals = list(obs.rejected)
    if obs.rejected_at:
        first = min(obs.rejected_at)
        after = [sha for at, sha in obs.decided if at >= first]
        report.after_refusal, report.after_refusal_own = len(after), sum(1 for sha in after if own(sha))
    if obs.by_version:
        most = max(obs.by_version.values(), key=lambda s: s.scored)
        report.recall = most.summary()
    return report


@dataclass
class SecondSite:
    """The second product's line while the demo runs: what it was sent, and its report."""

    line: SecondLine
    champion: LineChampion
    observer: FleetObserver  # what the line's agent reports, scored against the line's own truth

    @classmethod
    def bootstrap(
        cls,
        line: SecondLine,
        kafka: KafkaSettings,
        store: DatasetStore,
        settings: TrainSettings,
        registry: ModelRegistry,
        workdir: Path,
        say: Say,
    ) -> SecondSite:
        champion = train_line_champion(line, store, settings, registry, workdir / line.line_id, say)
        return cls(line, champion, FleetObserver(kafka, Oracle(champion.sim), line.agent_id))

    def serving_own(self) -> bool:
        hb = self.observer.obs.last_heartbeat
        v = self.champion.version
        return hb is not None and hb.model is not None and hb.model.sha256 in (v.sha256, v.edge_sha256)

    def refused(self) -> int:
        hb = self.observer.obs.last_heartbeat
        return hb.models_rejected.get("product", 0) if hb is not None else 0

    def send_plate_model(
        self,
        kafka: KafkaSettings,
        plate: RegisteredVersion,
        product: str,
        deadline: float,
        check: Callable[[], None],
        say: Say,
    ) -> str:
        """Once the line's agent serves its champion, send the plate's champion to this line by mistake: its
        agent must refuse it. (The plate's own rollouts go to target ``fleet`` with their product: this line's
        agent skips those without counting them.)"""
        line, v = self.line, self.champion.version
        wait_for(f"{line.agent_id} serving {line.product} v{v.version}", self.serving_own, deadline, check)
        dep = send_to_line(
            kafka,
            plate,
            line.line_id,
            f"demo: {product} v{plate.version} to {line.line_id} by mistake ({line.product} must refuse it)",
        )
        say(
            f"agent {line.agent_id} serves {line.product} v{v.version}; sent {product} v{plate.version} to "
            f"its line by mistake (target {dep.target}, product {dep.product})"
        )
        return f"{dep.target} deployment of {product} v{plate.version} (product {dep.product})"

    def fill(
        self, models: dict[str, SiteModel], deadline: float, check: Callable[[], None]
    ) -> tuple[LineReport, str]:
        """The line's report once its agent has reported the refusal (a minute at most: it was sent minutes
        ago), and what came of the cross-product deployment."""
        line = self.line
        soon = min(deadline, time.monotonic() + 60.0)
        wait_for(f"{line.agent_id} to report the refused deployment", lambda: self.refused() > 0, soon, check)
        with self.observer.lock:
            got = line_report(line, self.observer.obs, models, f"v{self.champion.version.version}")
        outcome = (
            f" -> {line.agent_id} ({line.product}): refused {got.refused}; then "
            f"{got.after_refusal_own} of {got.after_refusal} decisions by {line.product} models"
        )
        return got, outcome
