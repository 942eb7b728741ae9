"""Canary on the real broker: failing canary agents are rolled back; healthy ones widen to the fleet."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from factoryloop.kafka import EventProducer, TypedConsumer
from factoryloop.schemas import Deployment, ModelRef, Strategy
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.support import events as ev
from training.registry import RegisteredVersion
from training.rollout import CanaryPolicy, run_canary

TAGS = {"onnx_sha256": "c" * 64, "class_names": '["scratch", "dent"]', "imgsz": "256"}
NEW = RegisteredVersion("factoryloop-steel", "2", "run2", "mlflow-artifacts:/1/run2/artifacts/model", TAGS)
OLD = RegisteredVersion("factoryloop-steel", "1", "run1", "mlflow-artifacts:/1/run1/artifacts/model", TAGS)


@contextmanager
def agents_reporting(settings: KafkaSettings, version: str, errors: int) -> Iterator[None]:
    stop = threading.Event()

    def beat() -> None:
        with EventProducer(settings) as producer:
            while not stop.wait(0.3):
                for agent in ("agent-c1", "agent-2"):
                    hb = ev.heartbeat(
                        agent_id=agent,
                        model=ModelRef(name=NEW.name, version=version if agent == "agent-c1" else "1"),
                        errors=errors if agent == "agent-c1" else 0,
                        latency_p99_ms=20.0,
                    )
                    producer.send(TopicRole.HEARTBEATS, hb)
                producer.flush(10)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(15)


def _deployments(settings: KafkaSettings) -> list[Deployment]:
    with TypedConsumer(settings, [TopicRole.DEPLOYMENTS], None) as consumer:
        out: list[Deployment] = []
        for _ in range(10):
            out += [r.event for r in consumer.poll(timeout_ms=1000)]
            if len(out) >= 2:
                break
        return out


@pytest.mark.parametrize(
    ("errors", "outcome", "final_strategy", "final_version"),
    [(3, "rolled_back", Strategy.ROLLBACK, "1"), (0, "full", Strategy.FULL, "2")],
)
def test_canary(
    kafka_settings: KafkaSettings, errors: int, outcome: str, final_strategy: Strategy, final_version: str
) -> None:
    policy = CanaryPolicy(window_s=4.0, max_errors=0, max_latency_p99_ms=100.0)
    with agents_reporting(kafka_settings, "2", errors):
        result = run_canary(
            kafka_settings, NEW, OLD, canary_agents=["agent-c1"], policy=policy, target="line-1"
        )
    assert result.outcome == outcome, result.reasons
    if errors:
        assert "agent-c1" in result.reasons[0] and "errors" in result.reasons[0]
    published = _deployments(kafka_settings)
    assert [d.strategy for d in published] == [Strategy.CANARY, final_strategy]
    assert published[0].canary_agents == ("agent-c1",) and published[0].model_version == "2"
    assert published[1].model_version == final_version and published[1].target == "line-1"
    if errors:
        assert published[1].reason is not None and "errors" in published[1].reason
