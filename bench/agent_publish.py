"""Publish rate of 50 KB frames for bench/bench_agent.py: a raw kafka-python producer, our EventProducer and
the agent's Publisher, with the same settings (acks=all, idempotent, linger 5 ms, 256 KB batches)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from edge_agent.publish.buffer import PRIO_FRAME, DiskBuffer, OutRecord
from edge_agent.publish.publisher import Publisher
from edge_agent.stats import AgentStats
from factoryloop.settings import KafkaSettings


def _rate(send: Callable[[], object], flush: Callable[[], object], n: int, warmup: int = 100) -> float:
    for _ in range(warmup):
        send()
    flush()
    t0 = time.perf_counter()
    for _ in range(n):
        send()
    flush()
    return n / (time.perf_counter() - t0)


def _raw_rate(bootstrap: str, topic: str, payload: bytes, n: int) -> float:
    from kafka import KafkaProducer

    raw = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_in_flight_requests_per_connection=5,
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=16 * 1024 * 1024,
    )
    try:
        return _rate(lambda: raw.send(topic, payload, key=b"k"), raw.flush, n)
    finally:
        raw.close()


def _event_producer_rate(settings: KafkaSettings, topic: str, payload: bytes, n: int) -> float:
    from factoryloop.kafka import EventProducer

    with EventProducer(settings) as ours:
        return _rate(lambda: ours.send_raw(topic, payload, key=b"k"), ours.flush, n)


def _publisher_rate(settings: KafkaSettings, topic: str, payload: bytes, n: int, tmp: Path) -> float:
    pub = Publisher(settings, DiskBuffer(tmp / f"pubbuf{uuid.uuid4().hex[:6]}", 1 << 30), AgentStats())
    pub.start()
    try:
        while not pub.connected:
            time.sleep(0.05)
        record = OutRecord(topic, b"k", payload, (), PRIO_FRAME)
        return _rate(lambda: pub.send(record), lambda: pub.flush(60), n)
    finally:
        pub.close()


def publish_rates(bootstrap: str, tmp: Path, n: int = 2000, rounds: int = 3) -> dict[str, float]:
    """Records/s of 50 KB frames, best of ``rounds`` (the three producers interleaved, order rotated)."""
    from factoryloop.kafka import ensure_topics
    from factoryloop.topics import TopicRole

    payload = os.urandom(50 * 1024)
    settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:6]}.")
    ensure_topics(settings, replication_factor=1)
    topic = settings.topics[TopicRole.FRAMES]
    runs: dict[str, Callable[[], float]] = {
        "raw kafka-python": lambda: _raw_rate(bootstrap, topic, payload, n),
        "EventProducer": lambda: _event_producer_rate(settings, topic, payload, n),
        "agent Publisher": lambda: _publisher_rate(settings, topic, payload, n, tmp),
    }
    best = dict.fromkeys(runs, 0.0)
    names = list(runs)
    for r in range(rounds):  # the order rotates each round: whoever runs first is not favoured
        for name in names[r % len(names) :] + names[: r % len(names)]:
            best[name] = max(best[name], runs[name]())
    return best
