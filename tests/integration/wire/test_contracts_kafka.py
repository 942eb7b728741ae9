"""Every wire contract through the real broker: produce, consume, dead letters, frames, compaction."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kafka import KafkaConsumer, TopicPartition
from pydantic import BaseModel

from factoryloop.errors import ConfigError, KafkaUnavailableError
from factoryloop.kafka import EventProducer, Received, TypedConsumer, ensure_topics
from factoryloop.schemas import DeadLetter, FramePayload, decode
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TOPIC_SPECS, TopicRole
from tests.support.events import agent_event, deployment, frame, heartbeat, jpeg_bytes, label, outcome

pytestmark = pytest.mark.kafka


def consume_all(consumer: TypedConsumer, expected: int, timeout_s: float = 30.0) -> list[Received]:
    got: list[Received] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and time.monotonic() < deadline:
        got.extend(consumer.poll(timeout_ms=500))
    return got


@pytest.mark.parametrize(
    ("role", "factory"),
    [
        (TopicRole.OUTCOMES, outcome),
        (TopicRole.LABELS, label),
        (TopicRole.DEPLOYMENTS, deployment),
        (TopicRole.HEARTBEATS, heartbeat),
        (TopicRole.HEARTBEATS, agent_event),
    ],
)
def test_contract_round_trip(
    kafka_settings: KafkaSettings, role: TopicRole, factory: Callable[[], BaseModel]
) -> None:
    events = [factory() for _ in range(3)]
    with EventProducer(kafka_settings) as producer:
        for event in events:
            producer.send_sync(role, event, key=getattr(event, "station_key", "fleet"))
    with TypedConsumer(kafka_settings, [role], group_id="g") as consumer:
        got = consume_all(consumer, len(events))
    assert sorted((r.event for r in got), key=lambda e: e.event_id) == sorted(
        events, key=lambda e: e.event_id
    )


def test_frame_of_200kb_round_trips(kafka_settings: KafkaSettings) -> None:
    jpeg = jpeg_bytes(200 * 1024, seed=7)
    meta = frame(jpeg)
    with EventProducer(kafka_settings) as producer:
        producer.send_sync(TopicRole.FRAMES, meta, jpeg=jpeg)
    with TypedConsumer(kafka_settings, [TopicRole.FRAMES], group_id="g") as consumer:
        (got,) = consume_all(consumer, 1)
    assert isinstance(got.event, FramePayload)
    assert got.event.meta == meta
    assert got.event.jpeg == jpeg
    assert got.key == b"line-1/st-1"


def test_malformed_record_is_dead_lettered_and_consumer_carries_on(kafka_settings: KafkaSettings) -> None:
    good = [outcome(), outcome()]
    topic = kafka_settings.topics.outcomes
    with EventProducer(kafka_settings) as producer:
        producer.send_sync(TopicRole.OUTCOMES, good[0])
        producer.send_raw(topic, b'{"schema_version": 42}', key="line-1/st-1").get(timeout=10)
        producer.send_raw(topic, b"\x00garbage", key="line-1/st-1").get(timeout=10)
        producer.send_sync(TopicRole.OUTCOMES, good[1])
    with TypedConsumer(kafka_settings, [TopicRole.OUTCOMES], group_id="sink") as consumer:
        got = consume_all(consumer, 2)
        consumer.commit()
        assert consumer.dead_lettered == 2
    assert [r.event for r in got] == good  # one key -> one partition -> order kept
    with TypedConsumer(kafka_settings, [TopicRole.DEAD_LETTERS], group_id="audit") as dlq:
        letters = [r.event for r in consume_all(dlq, 2)]
    assert all(isinstance(x, DeadLetter) for x in letters)
    assert [x.source_topic for x in letters] == [topic, topic]
    assert "unknown schema_version 42" in letters[0].reason
    assert "not valid UTF-8 JSON" in letters[1].reason
    assert letters[1].original_value() == b"\x00garbage"
    assert letters[0].consumer_group == "sink"


def test_committed_offsets_resume_after_restart(kafka_settings: KafkaSettings) -> None:
    with EventProducer(kafka_settings) as producer:
        first = [outcome() for _ in range(3)]
        for e in first:
            producer.send_sync(TopicRole.OUTCOMES, e)
    with TypedConsumer(kafka_settings, [TopicRole.OUTCOMES], group_id="resume") as consumer:
        assert len(consume_all(consumer, 3)) == 3
        consumer.commit()
    second = outcome()
    with EventProducer(kafka_settings) as producer:
        producer.send_sync(TopicRole.OUTCOMES, second)
    with TypedConsumer(kafka_settings, [TopicRole.OUTCOMES], group_id="resume") as consumer:
        got = consume_all(consumer, 1)
        time.sleep(1.0)
        got += consumer.poll(timeout_ms=500)
    assert [r.event for r in got] == [second]


def test_producer_is_idempotent_and_refuses_conflicting_acks(kafka_settings: KafkaSettings) -> None:
    with EventProducer(kafka_settings) as producer:
        assert producer.idempotent
    with pytest.raises(ConfigError, match="acks"):
        EventProducer(kafka_settings, acks=1)


def test_unreachable_broker_gives_a_clear_error() -> None:
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:9")
    with pytest.raises(KafkaUnavailableError, match=r"127\.0\.0\.1:9"):
        EventProducer(settings, bootstrap_timeout_s=1.0)


def test_topics_are_created_with_their_specs(kafka_settings: KafkaSettings) -> None:
    # ensure_topics is idempotent: a second call creates nothing
    assert ensure_topics(kafka_settings) == []
    consumer = KafkaConsumer(bootstrap_servers=kafka_settings.bootstrap_servers)
    try:
        for role, spec in TOPIC_SPECS.items():
            assert len(consumer.partitions_for_topic(kafka_settings.topics[role])) == spec.partitions
    finally:
        consumer.close()


def read_to_end(settings: KafkaSettings, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every record currently in partition 0 of ``topic``, from the beginning to the end offset."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        out: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + 15
        while consumer.position(tp) < end and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                out.extend((r.key, r.value) for r in records)
        return out
    finally:
        consumer.close()


def test_deployment_topic_is_compacted(kafka_settings_factory: Callable[..., KafkaSettings]) -> None:
    settings = kafka_settings_factory(create_topics=False)
    fast = TOPIC_SPECS[TopicRole.DEPLOYMENTS].with_configs(
        **{"segment.ms": "100", "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "100"}
    )
    ensure_topics(settings, [fast])
    topic = settings.topics.deployments
    with EventProducer(settings) as producer:
        for version in range(1, 6):
            for target in ("line-1", "line-2"):
                event = deployment(target=target, model_version=str(version))
                producer.send_sync(TopicRole.DEPLOYMENTS, event, key=target)
                time.sleep(0.15)  # let segments roll so older records become cleanable
        per_key: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            # A fresh record rolls the active segment so the cleaner can compact what came before.
            producer.send_sync(TopicRole.DEPLOYMENTS, deployment(target="line-3"), key="line-3")
            per_key = [(k, v) for k, v in read_to_end(settings, topic) if k in (b"line-1", b"line-2")]
            if len(per_key) == 2:
                break
            time.sleep(2)
    assert len(per_key) == 2, f"compaction did not happen: {len(per_key)} records for two keys"
    latest = {k: decode(TopicRole.DEPLOYMENTS, v).model_version for k, v in per_key}
    assert latest == {b"line-1": "5", b"line-2": "5"}
