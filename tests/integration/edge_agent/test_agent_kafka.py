"""The agent on the real broker: exact counts, broker outage, kill -9, deployments and hot swap."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from edge_agent.agent import Agent
from edge_agent.publish.buffer import DiskBuffer
from edge_agent.settings import AgentSettings
from factoryloop.kafka import ensure_topics
from factoryloop.schemas import (
    AgentEvent,
    AgentEventType,
    FramePayload,
    Heartbeat,
    Outcome,
    Verdict,
)
from factoryloop.settings import KafkaSettings
from factoryloop.stack.kafka import KafkaCluster
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import agent_config, deploy, read_topic, wait_until
from tests.support.edge_onnx import fail_model, pass_model

pytest.importorskip("onnx")
REPO = Path(__file__).resolve().parents[3]


def run_agent(agent: Agent, timeout_s: float = 120.0) -> None:
    agent.start()
    try:
        assert agent.wait(timeout_s), "agent did not finish its source in time"
    finally:
        agent.close()


def outcomes_of(kafka: KafkaSettings, expected: int, timeout_s: float = 60.0) -> list[Outcome]:
    got = read_topic(kafka, TopicRole.OUTCOMES, until=expected, timeout_s=timeout_s)
    return [o for o in got if isinstance(o, Outcome)]


def test_simulated_line_to_kafka_exact_counts(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    model = fail_model(tmp_path / "fail.onnx")
    cfg = agent_config(kafka_settings, model, tmp_path, source={"max_frames": 40})
    agent = Agent(cfg, AgentSettings(state_dir=tmp_path / "state"))
    run_agent(agent)
    outcomes = outcomes_of(kafka_settings, 40)
    assert len(outcomes) == 40 and len({o.event_id for o in outcomes}) == 40
    assert {o.verdict for o in outcomes} == {Verdict.FAIL}
    assert sorted(o.source_frame_index or 0 for o in outcomes) == list(range(40))
    assert all(o.frame_sent and o.detections[0].class_name == "dent" for o in outcomes)
    frames = [
        f for f in read_topic(kafka_settings, TopicRole.FRAMES, until=40) if isinstance(f, FramePayload)
    ]
    assert len(frames) == 40
    assert {f.meta.outcome_event_id for f in frames} == {o.event_id for o in outcomes}
    assert all(hashlib.sha256(f.jpeg).hexdigest() == f.meta.jpeg_sha256 for f in frames)
    beats = read_topic(kafka_settings, TopicRole.HEARTBEATS)
    final = [b for b in beats if isinstance(b, Heartbeat)][-1]
    assert final.frames_inspected == 40 and final.verdicts == {"FAIL": 40} and final.frames_dropped == 0
    assert {e.type for e in beats if isinstance(e, AgentEvent)} >= {
        AgentEventType.STARTED,
        AgentEventType.STOPPED,
    }
    assert agent.buffer.count == 0


def test_broker_outage_every_outcome_exactly_once(stoppable_kafka: KafkaCluster, tmp_path: Path) -> None:
    kafka_broker = stoppable_kafka
    kafka = KafkaSettings(bootstrap_servers=kafka_broker.bootstrap, topic_prefix="outage.")
    ensure_topics(kafka)
    total = 300
    cfg = agent_config(
        kafka, pass_model(tmp_path / "pass.onnx"), tmp_path, source={"fps": 30, "max_frames": total}
    )
    agent = Agent(cfg, AgentSettings(state_dir=tmp_path / "state"))
    agent.start()
    try:
        time.sleep(2.5)
        kafka_broker.stop_node(0)
        time.sleep(5)
        assert agent.stats.get("frames_inspected") > 100
        kafka_broker.start_node(0)
        assert agent.wait(120)
        # Store-and-forward: what went to the disk buffer during the outage drains after it, in its own time
        # (reconnect backoff up to 10 s); closing earlier leaves it on disk for the next run, not lost.
        wait_until(
            lambda: agent.buffer.count == 0 and agent.publisher.pending == 0,
            120,
            "the buffer to drain after the outage",
        )
    finally:
        agent.close(timeout_s=30)
    assert agent.stats.get("publish_failures") + agent.stats.get("buffered") > 0, "the outage went unnoticed"
    outcomes = outcomes_of(kafka, 10_000, timeout_s=90)
    unique = {o.event_id: o for o in outcomes}
    assert len(unique) == total
    assert sorted(o.source_frame_index or 0 for o in unique.values()) == list(range(total))
    assert agent.buffer.count == 0


def _buffered_outcomes(tmp_path: Path, kafka: KafkaSettings) -> set[bytes]:
    buf = DiskBuffer(tmp_path / "buffer", 1 << 30)
    try:
        return {b.record.value for b in buf.peek(1_000_000) if b.record.topic == kafka.topics.outcomes}
    finally:
        buf.close()


def test_sigkill_then_restart_loses_nothing_buffered(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    model = fail_model(tmp_path / "fail.onnx")
    offline = KafkaSettings(bootstrap_servers="127.0.0.1:1", topic_prefix=kafka_settings.topic_prefix)
    cfg = agent_config(
        offline, model, tmp_path, source={"fps": 50, "max_frames": 100000}, deployments={"enabled": False}
    )
    path = tmp_path / "line.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    env = {**os.environ, "FACTORYLOOP_AGENT_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_agent", "run", "--config", str(path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        buffer_file = tmp_path / "buffer" / "buffer.sqlite3"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # until 30 outcomes are buffered (frames and heartbeats are too)
            time.sleep(1)
            if buffer_file.exists() and len(_buffered_outcomes(tmp_path, kafka_settings)) >= 30:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    expected = _buffered_outcomes(tmp_path, kafka_settings)
    assert len(expected) >= 30
    # Restart online with a source that yields nothing new: only the buffer is drained.
    online = agent_config(
        kafka_settings, model, tmp_path, source={"max_frames": 1}, deployments={"enabled": False}
    )
    agent = Agent(online, AgentSettings(state_dir=tmp_path / "state"))
    run_agent(agent)
    outcomes = outcomes_of(kafka_settings, len(expected) + 1)
    got = {o.event_id for o in outcomes}
    import json

    want = {json.loads(v)["event_id"] for v in expected}
    assert want <= got
    assert agent.buffer.count == 0


def test_tampered_model_refused_then_hot_swap_at_30fps(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    initial = pass_model(tmp_path / "pass.onnx")
    challenger = fail_model(tmp_path / "v2.onnx")
    good_sha = hashlib.sha256(challenger.read_bytes()).hexdigest()
    tampered = tmp_path / "v2-tampered.onnx"
    tampered.write_bytes(challenger.read_bytes() + b"\x00")
    total = 240
    cfg = agent_config(kafka_settings, initial, tmp_path, source={"fps": 30, "max_frames": total})
    agent = Agent(cfg, AgentSettings(state_dir=tmp_path / "state"))
    agent.start()
    try:
        time.sleep(1.5)
        deploy(kafka_settings, tampered.as_uri(), good_sha, "2-tampered")
        deadline = time.monotonic() + 20
        while agent.models.rejected == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert agent.models.rejected == 1 and agent.models.current.ref.version == "local"
        assert "sha256 mismatch" in (agent.heartbeat().last_model_error or "")
        dep = deploy(kafka_settings, challenger.as_uri(), good_sha, "2")
        while agent.models.swaps == 0 and time.monotonic() < deadline + 20:
            time.sleep(0.1)
        assert agent.models.current.ref.version == "2"
        assert agent.wait(60)
    finally:
        agent.close()
    assert agent.stats.get("frames_dropped") == 0
    outcomes = outcomes_of(kafka_settings, total)
    assert len(outcomes) == total
    versions = [o.model.version for o in sorted(outcomes, key=lambda o: o.source_frame_index or 0)]
    switch = versions.index("2")
    assert set(versions[:switch]) == {"local"} and set(versions[switch:]) == {"2"}  # one clean swap
    events = [e for e in read_topic(kafka_settings, TopicRole.HEARTBEATS) if isinstance(e, AgentEvent)]
    rejected = [e for e in events if e.type is AgentEventType.MODEL_REJECTED]
    assert len(rejected) == 1 and "sha256 mismatch" in rejected[0].detail
    assert any(e.type is AgentEventType.MODEL_LOADED and e.deployment_id == dep.deployment_id for e in events)
    # The good model was persisted: a restart with Kafka unreachable serves it at once.
    offline = agent_config(KafkaSettings(bootstrap_servers="127.0.0.1:1"), initial, tmp_path / "b")
    restarted = Agent(offline, AgentSettings(state_dir=tmp_path / "state"))
    assert restarted.models.current.ref.version == "2"
    restarted.buffer.close()
