"""One product per agent, on the real broker: another product's fleet rollout is not for this agent (skipped,
not counted); a deployment of another product sent to its line is refused, counted and reported while the
agent keeps serving its model; one of its own product is then served."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from edge_agent.settings import AgentSettings
from factoryloop.schemas import FLEET_KEY, AgentEvent, AgentEventType, Heartbeat, Outcome
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import agent_config, deploy, read_topic, wait_until, with_product
from tests.support.edge_onnx import fail_model, pass_model

pytest.importorskip("onnx")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_agent_refuses_other_products_keeps_serving_then_accepts_its_own(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    total = 240
    cfg = agent_config(  # product: steel_plate
        kafka_settings,
        with_product(pass_model(tmp_path / "pass.onnx"), "steel_plate"),
        tmp_path,
        source={"fps": 30, "max_frames": total},
        pipeline={"capture_queue": 64},  # loading a model competes for the CPU: absorb it, don't drop
    )
    pcb = with_product(fail_model(tmp_path / "pcb.onnx"), "pcb")
    pcb_unsaid = with_product(pass_model(tmp_path / "pcb-unsaid.onnx"), "pcb")
    steel = with_product(fail_model(tmp_path / "steel.onnx"), "steel_plate")
    agent = Agent(cfg, AgentSettings(state_dir=tmp_path / "state"))
    assert agent.models.current.product == "steel_plate"
    agent.start()
    try:
        # pcb's own rollout to every pcb agent (target fleet): not addressed to a steel_plate agent, skipped.
        deploy(kafka_settings, pcb.as_uri(), sha256_of(pcb), "1-pcb", target=FLEET_KEY, product="pcb")
        # The same model sent to this agent's line: refused before any download, counted (the skipped fleet
        # rollout, published first, is not: the count reaches 1 with this one only).
        line_said = deploy(kafka_settings, pcb.as_uri(), sha256_of(pcb), "2-pcb", product="pcb")
        wait_until(lambda: agent.models.rejected == 1, 30, "the line pcb deployment's refusal")
        error = agent.heartbeat().last_model_error or ""
        assert "deployment is for product 'pcb', this agent serves product 'steel_plate'" in error
        # A deployment that does not say its product, of a model whose metadata says pcb: refused after fetch.
        line_unsaid = deploy(kafka_settings, pcb_unsaid.as_uri(), sha256_of(pcb_unsaid), "2-unsaid")
        wait_until(lambda: agent.models.rejected == 2, 30, "the unsaid pcb model's refusal")
        assert "model is for product 'pcb'" in (agent.heartbeat().last_model_error or "")
        assert agent.models.current.ref.version == "local" and agent.models.swaps == 0
        assert agent.stats.get("models_rejected:product") == 2
        assert agent.heartbeat().models_rejected == {"product": 2}
        served_before = agent.stats.get("frames_inspected")
        own = deploy(
            kafka_settings, steel.as_uri(), sha256_of(steel), "3", target=FLEET_KEY, product="steel_plate"
        )
        wait_until(lambda: agent.models.swaps == 1, 30, "the steel_plate deployment")
        assert agent.models.current.ref.version == "3" and agent.models.current.product == "steel_plate"
        assert agent.models.last_error is None
        assert agent.wait(60)
    finally:
        agent.close()
    assert agent.models.rejected == 2
    inspected, dropped = agent.stats.get("frames_inspected"), agent.stats.get("frames_dropped")
    assert served_before > 0 and inspected + dropped == total and dropped <= 5
    got = read_topic(kafka_settings, TopicRole.OUTCOMES, timeout_s=60, idle_s=3)
    outcomes = sorted(
        {o.event_id: o for o in got if isinstance(o, Outcome)}.values(),
        key=lambda o: o.source_frame_index or 0,
    )
    assert len(outcomes) == inspected
    versions = [o.model.version for o in outcomes]
    switch = versions.index("3")
    assert switch >= served_before  # the refused models never decided a frame
    assert set(versions[:switch]) == {"local"} and set(versions[switch:]) == {"3"}
    events = read_topic(kafka_settings, TopicRole.HEARTBEATS)
    rejected = [e for e in events if isinstance(e, AgentEvent) and e.type is AgentEventType.MODEL_REJECTED]
    assert [e.deployment_id for e in rejected] == [line_said.deployment_id, line_unsaid.deployment_id]
    assert all("'pcb'" in e.detail and "'steel_plate'" in e.detail for e in rejected)
    assert any(
        isinstance(e, AgentEvent)
        and e.type is AgentEventType.MODEL_LOADED
        and e.deployment_id == own.deployment_id
        for e in events
    )
    final = [b for b in events if isinstance(b, Heartbeat)][-1]
    assert final.models_rejected == {"product": 2} and final.model is not None and final.model.version == "3"
