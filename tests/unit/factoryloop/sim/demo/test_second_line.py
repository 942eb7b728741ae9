"""The demo site's second line: its agent config and bootstrap data are the tile product's, and what an agent
reports (outcomes, heartbeats, refusals) is summarised per line, telling its own product's models from
another product's by sha256."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from factoryloop.schemas import AgentEventType, ModelRef, utc_now
from factoryloop.settings import KafkaSettings
from factoryloop.sim import TILE_SIM, Oracle, SimConfig
from factoryloop.sim.demo.line import agent_config, bootstrap_store
from factoryloop.sim.demo.observer import LoopObservations, observe
from factoryloop.sim.demo.presets import demo_options
from factoryloop.sim.demo.second_line import SecondLine, SiteModel, line_report
from factoryloop.sim.presets import TILE_CLASSES
from tests.support.events import agent_event, heartbeat, outcome
from training.datasets import DatasetStore

PLATE = ModelRef(name="factoryloop-demo_plate", version="1", sha256="a" * 64)
TILE = ModelRef(name="factoryloop-demo_tile", version="1", sha256="c" * 64)
TILE_LOCAL = ModelRef(name="model", version="local", sha256="d" * 64)  # the champion's file, from the config
MODELS = {
    "a" * 64: SiteModel("demo_plate", "demo_plate v1 fp32"),
    "c" * 64: SiteModel("demo_tile", "demo_tile v1 int8"),
    "d" * 64: SiteModel("demo_tile", "demo_tile v1 fp32"),
}
LINE = SecondLine()
TILE_STATION = {"line_id": LINE.line_id, "station_id": LINE.station_id, "agent_id": LINE.agent_id}


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    return Oracle(TILE_SIM, seed=LINE.seed)


def test_demo_options_run_a_second_product_on_its_own_line() -> None:
    for quick in (True, False):
        opts = demo_options(quick=quick, product="p1", second_product="p2")
        assert opts.second_line is not None
        assert opts.second_line.product == "p2" and opts.product == "p1"
        assert opts.second_line.line_id != opts.line_id
        assert opts.second_line.agent_id != opts.agent_id


def test_agent_config_of_the_second_line_is_the_tile_products(tmp_path: Path) -> None:
    from edge_agent.config import load_config

    path = agent_config(LINE, KafkaSettings(), TILE_SIM, tmp_path / "model.onnx", tmp_path)
    cfg = load_config(path)
    assert (cfg.agent_id, cfg.line_id, cfg.product) == (LINE.agent_id, LINE.line_id, LINE.product)
    assert cfg.source.type == "simulated"
    sim = SimConfig.model_validate({**cfg.source.sim, "seed": cfg.source.seed})
    assert sim.class_names == TILE_CLASSES
    assert sim == TILE_SIM.model_copy(update={"seed": LINE.seed})  # the agent sees the line the oracle knows


def test_bootstrap_creates_the_tile_product_with_its_classes(tmp_path: Path) -> None:
    store = DatasetStore(tmp_path / "datasets")
    line = SecondLine(bootstrap_frames=6)
    assert bootstrap_store(store, TILE_SIM, line, lambda _: None) == 6
    assert store.products.get(line.product).class_names == TILE_CLASSES
    assert len(store.images(product=line.product)) == 6


def _tile_line(oracle: Oracle) -> LoopObservations:
    """The tile agent serves its champion's file, then its deployment; a plate model is refused in between."""
    obs = LoopObservations()
    t0 = utc_now()
    events: list[object] = [
        outcome(**TILE_STATION, product="demo_tile", model=TILE_LOCAL, captured_at=t0, source_frame_index=1),
        outcome(**TILE_STATION, product="demo_tile", model=TILE, captured_at=t0, source_frame_index=2),
        agent_event(
            **TILE_STATION,
            ts=t0 + timedelta(seconds=1),
            model=PLATE,
            detail="the deployment is for product 'demo_plate', this agent serves product 'demo_tile'",
        ),
        outcome(
            **TILE_STATION,
            product="demo_tile",
            model=TILE,
            captured_at=t0 + timedelta(seconds=2),
            source_frame_index=3,
        ),
        heartbeat(**TILE_STATION, model=TILE, models_rejected={"product": 1}),
        # The plate's agent: not this line's, ignored.
        outcome(product="demo_plate", model=PLATE, captured_at=t0 + timedelta(seconds=3)),
        heartbeat(model=PLATE),
        agent_event(type=AgentEventType.MODEL_REJECTED, model=TILE, detail="not mine"),
    ]
    for event in events:
        observe(obs, oracle, event, agent_id=LINE.agent_id)
    return obs


def test_observer_keeps_only_its_agents_events(oracle: Oracle) -> None:
    obs = _tile_line(oracle)
    assert obs.outcomes == 3
    assert obs.products == {"demo_tile": 3}
    assert sum(obs.models.values()) == 3 and len(obs.models) == 2
    assert obs.last_heartbeat is not None and obs.last_heartbeat.agent_id == LINE.agent_id
    assert len(obs.rejected) == 1 and "demo_plate" in obs.rejected[0]


def test_line_report_tells_own_models_from_another_products(oracle: Oracle) -> None:
    report = line_report(LINE, _tile_line(oracle), MODELS, "v1")
    assert report.served == {"demo_tile v1 int8": 2, "demo_tile v1 fp32": 1}
    assert report.foreign == 0
    assert report.serving == "demo_tile v1 int8"
    assert report.heartbeat_models == ["demo_tile v1 int8"]
    assert report.refused == {"product": 1}
    assert (report.after_refusal, report.after_refusal_own) == (1, 1)
    assert set(report.recall) <= set(TILE_CLASSES)

    # Had the agent decided with the plate's model, or a model no product of the site knows, it would show.
    obs = _tile_line(oracle)
    later = utc_now() + timedelta(minutes=1)
    observe(obs, oracle, outcome(**TILE_STATION, model=PLATE, captured_at=later), LINE.agent_id)
    stranger = ModelRef(name="x", version="9", sha256="e" * 64)
    observe(obs, oracle, outcome(**TILE_STATION, model=stranger, captured_at=later), LINE.agent_id)
    report = line_report(LINE, obs, MODELS, "v1")
    assert report.foreign == 2
    assert report.served["demo_plate v1 fp32"] == 1
    assert report.served["x 9 (not a model of the site's products)"] == 1
    assert (report.after_refusal, report.after_refusal_own) == (3, 1)
