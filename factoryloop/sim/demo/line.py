"""A line of the demo site: its live simulator config (the drift), the bootstrap data, and the edge agent
process. The steel-plate line is described by :class:`~factoryloop.sim.demo.options.DemoOptions`, the site's
second line by :class:`~factoryloop.sim.demo.second_line.SecondLine`: both are a :class:`LineSpec`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import yaml

from factoryloop.settings import KafkaSettings
from factoryloop.sim import ClassRateDrift, SimConfig, Simulator, encode_jpeg
from factoryloop.sim.classes import ensure_simulated_product
from training.datasets import Box, DatasetStore, Provenance

if TYPE_CHECKING:
    from collections.abc import Callable

    from factoryloop.sim.demo.demo import DemoOptions

    Say = Callable[[str], None]


class LineSpec(Protocol):
    """What a line's bootstrap and agent need: its product, ids, seed and pace."""

    @property
    def product(self) -> str: ...
    @property
    def line_id(self) -> str: ...
    @property
    def station_id(self) -> str: ...
    @property
    def agent_id(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def bootstrap_frames(self) -> int: ...
    @property
    def live_start(self) -> int: ...
    @property
    def fps(self) -> float: ...
    @property
    def pass_sample_rate(self) -> float: ...


def live_sim_config(base: SimConfig, opts: DemoOptions) -> SimConfig:
    """The live line: the bootstrap line plus the drift that brings in the new class."""
    drift = ClassRateDrift(
        class_name=opts.new_class,
        at_frame=opts.live_start + opts.drift_after,
        rate=opts.new_class_rate,
    )
    return base.model_copy(update={"drift": (*base.drift, drift), "seed": opts.seed})


def bootstrap_store(store: DatasetStore, sim: SimConfig, opts: LineSpec, say: Say) -> int:
    """Render the pre-drift line with its truth into the store (provenance: simulated), as the line's product
    (created from the line's class map when new)."""
    ensure_simulated_product(store.products, opts.product, sim)
    simulator = Simulator(sim.model_copy(update={"seed": opts.seed}))
    for index in range(opts.bootstrap_frames):
        frame = simulator.frame(index)
        digest = store.add_image(encode_jpeg(frame), source="sim:bootstrap", product=opts.product)
        boxes = [Box(b.class_name, b.x1, b.y1, b.x2, b.y2) for b in frame.boxes]
        store.set_labels(
            digest, boxes, provenance=Provenance.SIMULATED, source_ref=f"sim:{opts.seed}:{index}"
        )
    say(
        f"bootstrap {opts.product}: {opts.bootstrap_frames} ground-truth frames of {opts.line_id} "
        "before any drift"
    )
    return opts.bootstrap_frames


def agent_config(opts: LineSpec, kafka: KafkaSettings, sim: SimConfig, model: Path, workdir: Path) -> Path:
    cfg = {
        "agent_id": opts.agent_id,
        "line_id": opts.line_id,
        "station_id": opts.station_id,
        "product": opts.product,
        "source": {
            "type": "simulated",
            "fps": opts.fps,
            "seed": opts.seed,
            "start": opts.live_start,
            "sim": sim.model_dump(mode="json", exclude={"seed"}),
        },
        "detector": {"onnx": str(model), "threads": 1, "conf": 0.1},
        "rules": {"default": {"confidence": 0.4, "uncertain": 0.2}},
        "sinks": [{"type": "log", "level": "DEBUG"}],
        "sampling": {"fail": True, "uncertain": True, "pass_rate": opts.pass_sample_rate, "seed": opts.seed},
        "buffer": {"dir": str(workdir / "agent-buffer")},
        "kafka": {"bootstrap_servers": kafka.bootstrap_servers, "topic_prefix": kafka.topic_prefix},
        "deployments": {"enabled": True},
        "heartbeat_interval_s": 2,
    }
    path = workdir / "line.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def start_agent(config: Path, workdir: Path, mlflow_uri: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FACTORYLOOP_AGENT_STATE_DIR": str(workdir / "agent-state"),
        # Deployments point at MLflow's artifact proxy (mlflow-artifacts:/...): the agent fetches over HTTP.
        "FACTORYLOOP_AGENT_MLFLOW_TRACKING_URI": mlflow_uri,
    }
    log = (workdir / "agent.log").open("ab")
    cmd = [sys.executable, "-m", "factoryloop.cli", "agent", "run", "--config", str(config)]
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
