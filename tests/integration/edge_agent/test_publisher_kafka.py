"""The publisher never loses a record that Kafka refuses to enqueue: here the drainer's producer is closed
under the publish thread (what a reset during a broker outage does), and the record goes to the disk buffer,
then to Kafka once a new producer is up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge_agent.publish.buffer import DiskBuffer
from edge_agent.publish.publisher import Publisher, make_record
from edge_agent.stats import AgentStats
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import read_topic
from tests.support.events import outcome

pytestmark = pytest.mark.kafka


def test_record_refused_by_a_closed_producer_is_buffered_then_delivered(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    buffer = DiskBuffer(tmp_path / "buffer", max_bytes=10_000_000)
    stats = AgentStats()
    publisher = Publisher(kafka_settings, buffer, stats)
    publisher.start()
    try:
        deadline = time.monotonic() + 30
        while not publisher.connected and time.monotonic() < deadline:
            time.sleep(0.1)
        assert publisher.connected
        producer = publisher._producer
        assert producer is not None
        producer.close(0)  # as _reset_producer does on the drainer thread
        event = outcome()
        publisher.send(make_record(kafka_settings, TopicRole.OUTCOMES, event, priority=9))
        assert stats.get("publish_failures") == 1 and stats.get("buffered") == 1
        # The drainer's next send fails on the closed producer too; it resets it and drains the buffer.
        got = read_topic(kafka_settings, TopicRole.OUTCOMES, until=1, timeout_s=60)
        assert [o.event_id for o in got] == [event.event_id]
    finally:
        publisher.close(5)
        buffer.close()
