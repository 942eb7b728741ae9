"""Join the topics a canary is judged on: outcomes and labels from their end (what happens from now on),
the heartbeats from ``heartbeats_back_s`` ago, so the fleet is known at once, not after a heartbeat round."""

from __future__ import annotations

import time
from typing import Any

from factoryloop.kafka import TypedConsumer
from training.errors import RolloutError


def join_watched(
    consumer: TypedConsumer,
    heartbeats_back_s: float,
    timeout_s: float = 30.0,
    positions: dict[Any, int] | None = None,
) -> None:
    """``positions``: partition -> offset to go on from (a consumer opened again), instead of from now."""
    deadline = time.monotonic() + timeout_s
    for role in consumer.roles:  # metadata first: a consumer without it gets an empty assignment
        while not consumer.raw.partitions_for_topic(consumer.topics[role]):
            if time.monotonic() > deadline:
                raise RolloutError(f"topic {consumer.topics[role]} has no partitions (does it exist?)")
            time.sleep(0.2)
    while not consumer.raw.assignment():
        if time.monotonic() > deadline:
            raise RolloutError("the rollout watcher got no partitions assigned in time")
        consumer.raw.poll(timeout_ms=200)
    assigned = list(consumer.raw.assignment())
    if positions is not None:
        for tp in assigned:
            if tp in positions:
                consumer.raw.seek(tp, positions[tp])
            else:
                consumer.raw.position(tp)
        return
    heartbeats = consumer.topics.heartbeats
    since_ms = int((time.time() - heartbeats_back_s) * 1000)
    back = consumer.raw.offsets_for_times({tp: since_ms for tp in assigned if tp.topic == heartbeats})
    for tp in assigned:
        found = back.get(tp)
        if found is not None:
            consumer.raw.seek(tp, found.offset)
        else:
            consumer.raw.position(tp)  # resolve "latest" now: nothing older is judged
