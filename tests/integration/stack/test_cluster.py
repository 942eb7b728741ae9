"""The 3-node cluster keeps accepting acks=all writes and serving reads with one node down."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from factoryloop.stack.kafka import KafkaCluster

pytestmark = pytest.mark.cluster


def _consume_all(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    values: list[bytes] = []
    for _ in range(30):
        for batch in consumer.poll(timeout_ms=1000).values():
            values += [r.value for r in batch]
        if len(values) >= expected:
            break
    consumer.close()
    return values


@pytest.mark.parametrize("fault", ["kill", "stop"])
def test_survives_one_node_down(kafka_cluster: KafkaCluster, fault: str) -> None:
    bootstrap = kafka_cluster.bootstrap
    topic = f"rf3-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 3, 3, topic_configs={"min.insync.replicas": "2"})])
    admin.close()

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=15_000)
    for i in range(10):
        producer.send(topic, f"a{i}".encode())
    producer.flush(timeout=60)

    if fault == "kill":
        kafka_cluster.kill_node(1)
    else:
        kafka_cluster.stop_node(1)
    assert not kafka_cluster.nodes[1].running()

    futures = [producer.send(topic, f"b{i}".encode()) for i in range(10)]
    for fut in futures:
        fut.get(timeout=60)  # acks=all with 2 of 3 in sync: still acknowledged
    producer.close()

    values = _consume_all(bootstrap, topic, 20)
    assert sorted(values) == sorted(
        [f"a{i}".encode() for i in range(10)] + [f"b{i}".encode() for i in range(10)]
    )

    kafka_cluster.start_node(1)
    assert all(node.running() for node in kafka_cluster.nodes)
