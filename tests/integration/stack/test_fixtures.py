"""The session fixtures themselves: broker, topic factory, MLflow server."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

from kafka.admin import KafkaAdminClient

from factoryloop.stack.kafka import KafkaCluster


def test_topic_factory_creates_topics_with_partitions_and_config(
    kafka_broker: KafkaCluster, kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    assert kafka_bootstrap == kafka_broker.bootstrap and kafka_bootstrap.startswith("127.0.0.1:")
    first = topic_factory(partitions=4, config={"cleanup.policy": "compact"})
    second = topic_factory()
    assert first != second
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = {t["name"]: t for t in admin.describe_topics([first, second])}
    finally:
        admin.close()
    assert len(described[first]["partitions"]) == 4
    assert len(described[second]["partitions"]) == 1


def test_mlflow_server_is_healthy(mlflow_server: str) -> None:
    assert mlflow_server.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{mlflow_server}/health", timeout=10) as resp:
        assert resp.status == 200
