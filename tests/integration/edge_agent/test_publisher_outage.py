"""After a broker cut the publisher returns to sending directly while records keep flowing: its disk buffer
drains and hands over to live sending within a bounded number of records (not only when steady production
happens to leave the buffer empty), with every record delivered once and in order per key."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from edge_agent.publish.buffer import PRIO_OUTCOME, DiskBuffer, OutRecord
from edge_agent.publish.publisher import Publisher
from edge_agent.stats import AgentStats
from factoryloop.kafka import ensure_topics
from factoryloop.settings import KafkaSettings
from factoryloop.stack.kafka import KafkaCluster
from factoryloop.topics import TopicRole

pytestmark = pytest.mark.kafka

KEYS = 3
# Records sent from the drainer's first batch after the cut until the publisher is direct with an empty
# buffer. The handover needs one batch round trip once fewer than drain_batch (200) records are left; the
# old rule (direct only when the buffer happens to be empty) stays buffered for as long as records keep
# coming every few milliseconds.
HANDOVER_BOUND = 1000
PACE_S = 0.002
LINGER_MS = 50


class Line:
    """Sends record 0, 1, 2, ... (key ``k<i % KEYS>``) every ``PACE_S`` on its own thread, noting after each
    send whether the publisher is direct with an empty buffer."""

    def __init__(self, publisher: Publisher, topic: str) -> None:
        self.publisher, self.topic = publisher, topic
        self.sent = 0
        self.direct_at: list[int] = []  # record counts at which the publisher was direct and drained
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="line")

    def _run(self) -> None:
        while not self.stop.is_set():
            i = self.sent
            self.publisher.send(
                OutRecord(self.topic, f"k{i % KEYS}".encode(), str(i).encode(), (), PRIO_OUTCOME)
            )
            self.sent += 1
            if self.publisher.connected and self.publisher.buffer.count == 0:
                self.direct_at.append(self.sent)
            time.sleep(PACE_S)

    def wait_for(self, what: Callable[[], bool], label: str, timeout_s: float = 120.0) -> int:
        deadline = time.monotonic() + timeout_s
        while not what():
            assert time.monotonic() < deadline, f"no {label} within {timeout_s} s ({self.sent} records sent)"
            time.sleep(0.01)
        return self.sent


def read_values(settings: KafkaSettings, topic: str, expected: int) -> list[tuple[bytes, int]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    out: list[tuple[bytes, int]] = []
    deadline, idle_until = time.monotonic() + 120, time.monotonic() + 10
    try:
        while time.monotonic() < min(deadline, idle_until):
            for records in consumer.poll(timeout_ms=500).values():
                out.extend((r.key, int(r.value)) for r in records)
                idle_until = time.monotonic() + (3 if len(out) >= expected else 10)
    finally:
        consumer.close()
    return out


def test_after_a_cut_the_buffer_hands_over_to_direct_sending_while_records_keep_coming(
    stoppable_kafka: KafkaCluster, tmp_path: Path
) -> None:
    kafka_broker = stoppable_kafka
    kafka_settings = KafkaSettings(bootstrap_servers=kafka_broker.bootstrap, topic_prefix="cut.")
    ensure_topics(kafka_settings)
    buffer = DiskBuffer(tmp_path / "buffer", max_bytes=100_000_000)
    stats = AgentStats()
    # linger 50 ms: each drained batch waits at least that long for its acknowledgements, so records sent
    # every few ms always find some left in the buffer (what steady production does on a loaded line PC)
    publisher = Publisher(kafka_settings, buffer, stats, delivery_timeout_s=3, linger_ms=LINGER_MS)
    topic = kafka_settings.topics[TopicRole.OUTCOMES]
    line = Line(publisher, topic)
    publisher.start()
    try:
        line.wait_for(lambda: publisher.connected, "connection")
        line.thread.start()
        line.wait_for(lambda: line.sent >= 200, "records")
        kafka_broker.stop_node(0)
        line.wait_for(lambda: stats.get("buffered") >= 200, "buffered records during the cut")
        restarted = line.sent
        kafka_broker.start_node(0)
        first_drain = line.wait_for(lambda: stats.get("drained") > 0, "drained batch after the cut")
        end = line.wait_for(
            lambda: line.direct_at[-1:] > [first_drain] or line.sent > first_drain + HANDOVER_BOUND,
            "direct sending or the bound",
        )
        line.wait_for(lambda: line.sent >= end + 200, "more records")
    finally:
        line.stop.set()
        if line.thread.ident is not None:
            line.thread.join(30)
        publisher.close(30)
    back = next((n for n in line.direct_at if n > first_drain), None)
    assert back is not None and back - first_drain <= HANDOVER_BOUND, (
        f"still buffering {line.sent - first_drain} records after the first drained batch "
        f"(buffer {buffer.count}, stats {stats.snapshot()})"
    )
    stayed = [n for n in line.direct_at if n >= back]
    assert stayed == list(range(back, line.sent + 1)) and buffer.count == 0  # direct it stayed
    assert stats.get("drained") >= 200
    got = read_values(kafka_settings, topic, line.sent)
    buffer.close()
    values = [v for _k, v in got]
    assert set(values) == set(range(line.sent)), "every record delivered"
    # A record Kafka wrote at the cut whose acknowledgement was lost is sent again from the buffer (the
    # consumers dedupe): only records that failed live before the broker was back, never one sent after.
    dupes = sorted(v for v, n in Counter(values).items() if n > 1)
    assert all(v < restarted for v in dupes) and len(dupes) <= stats.get("publish_failures"), dupes
    # Per key, in order from the broker's return on: the buffered records sent before the handover, the
    # handed-over tail and the live ones after it. (Records in flight at the cut are re-queued when they fail,
    # after those buffered meanwhile: as before this change.)
    for key in {k for k, _v in got}:
        mine = [v for k, v in got if k == key and v >= restarted]
        assert mine == sorted(mine), f"key {key!r} out of order"
