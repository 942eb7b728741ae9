"""Helpers for the edge agent's integration tests: agent configs and reading topics back."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from edge_agent.config import AgentConfig, parse_config
from factoryloop.kafka import EventProducer
from factoryloop.schemas import Deployment, decode
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole


def agent_config(kafka: KafkaSettings, onnx: Path, tmp: Path, **overrides: Any) -> AgentConfig:
    data: dict[str, Any] = {
        "agent_id": "agent-it",
        "line_id": "line-it",
        "station_id": "st-1",
        "product": "steel_plate",
        "source": {"type": "simulated", "fps": 0, "seed": 3, "max_frames": 40},
        "detector": {"onnx": str(onnx), "threads": 1},
        "sampling": {"pass_rate": 0.0, "rare_class_min_count": 0, "seed": 1},
        "buffer": {"dir": str(tmp / "buffer")},
        "kafka": {
            "bootstrap_servers": kafka.bootstrap_servers,
            "topic_prefix": kafka.topic_prefix,
            "delivery_timeout_s": 6,
        },
        "heartbeat_interval_s": 1,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_config(data)


def read_topic(
    kafka: KafkaSettings,
    role: TopicRole,
    until: int | None = None,
    timeout_s: float = 60.0,
    idle_s: float = 3.0,
) -> list[Any]:
    """Everything on a topic from the start: until ``until`` records, or ``idle_s`` without a new one."""
    consumer = KafkaConsumer(
        kafka.topics[role],
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    out.append(decode(role, r.value))
                    last_new = time.monotonic()
            if until is not None and len(out) >= until:
                break
            if until is None and time.monotonic() - last_new > idle_s and out:
                break
    finally:
        consumer.close()
    return out


def deploy(
    kafka: KafkaSettings, artifact_uri: str, sha: str, version: str, target: str = "line-it", **kw: Any
) -> Deployment:
    """Publish a deployment of a synthetic 160 px model to ``line-it`` (agent_config's line) or ``target``."""
    dep = Deployment(
        deployment_id=f"dep-{version}-{time.time_ns()}",
        target=target,
        model_name="tiny",
        model_version=version,
        artifact_uri=artifact_uri,
        sha256=sha,
        class_names=("scratch", "dent", "stain", "crack", "missing_hole"),
        imgsz=160,
        **kw,
    )
    with EventProducer(kafka) as producer:
        producer.send_sync(TopicRole.DEPLOYMENTS, dep, key=dep.target)
    return dep


def with_product(path: Path, product: str) -> Path:
    """Write ``product`` into an ONNX file's metadata, as training's export does next to ``names``."""
    import onnx

    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = "product", product
    onnx.save(model, str(path))
    return path


def wait_until(condition: Any, timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)
