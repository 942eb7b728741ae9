"""The steel-plate line's agents: several stations of one line (``line-1``), each its own edge agent process
with its own simulated camera (seed) and truth, so that a canary can go to one agent and then widen to the
others. Every agent starts with the bootstrap champion's file and is observed on its own (recall against its
own truth, when each model version started serving on it)."""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from factoryloop.settings import KafkaSettings
from factoryloop.sim import Oracle, SimConfig
from factoryloop.sim.demo.line import agent_config, start_agent
from factoryloop.sim.demo.observer import FleetObserver
from factoryloop.sim.demo.options import DemoOptions


@dataclass
class PlateAgent:
    spec: DemoOptions  # its ids and seed (a LineSpec)
    sim: SimConfig  # its live simulator config (the drift), seeded
    oracle: Oracle
    observer: FleetObserver
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def agent_id(self) -> str:
        return self.spec.agent_id

    @property
    def log(self) -> Path:
        return self.workdir / "agent.log"

    def start(self, kafka: KafkaSettings, model: Path, mlflow_uri: str) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = agent_config(self.spec, kafka, self.sim, model, self.workdir)
        self.proc = start_agent(config, self.workdir, mlflow_uri)
        self.observer.start()

    def serving_since(self, version: str) -> datetime | None:
        with self.observer.lock:
            return self.observer.obs.serving_since.get(version)

    def first_seen(self, class_name: str) -> datetime | None:
        with self.observer.lock:
            return self.observer.obs.first_seen.get(class_name)


def plate_agents(opts: DemoOptions, live: SimConfig, kafka: KafkaSettings, workdir: Path) -> list[PlateAgent]:
    """``opts.agent_id`` (its files in ``workdir``, as before) and ``opts.more_agents`` (each in
    ``workdir/<agent id>``, seed ``opts.seed + n``): the same line and drift, other frames."""
    out = []
    for n, agent_id in enumerate((opts.agent_id, *opts.more_agents)):
        spec = (
            opts
            if n == 0
            else dataclasses.replace(
                opts, agent_id=agent_id, station_id=f"{opts.station_id}-{n + 1}", seed=opts.seed + n
            )
        )
        sim = live.model_copy(update={"seed": spec.seed})
        oracle = Oracle(sim)
        folder = workdir if n == 0 else workdir / agent_id
        out.append(PlateAgent(spec, sim, oracle, FleetObserver(kafka, oracle, agent_id=agent_id), folder))
    return out
