"""What the site test measures: the agents' counters, the API store by event id, the topics as the admin.

The simulated source numbers its frames 0, 1, 2, ... (``item_id`` ``sim-<seed>-<index>``, stored by the sink),
and an agent that drops no frame (``frames_dropped`` 0, checked) gives every frame an outcome. So "every
outcome the agent produced up to frame ``n`` is in the store exactly once" is: the store holds one row per
index ``0..n-1`` of that agent, no gap, no second row for an event id.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka.partitioner.default import murmur2

from factoryloop.kafka import TypedConsumer
from factoryloop.settings import KafkaSettings
from factoryloop.site.kafka_health import cluster_health
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)


def agent_metrics(url: str, timeout_s: float = 3.0) -> dict[str, float] | None:
    """The agent's Prometheus counters and gauges by name (None when it does not answer)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def wait_for(what: str, condition: Callable[[], Any], timeout_s: float, every_s: float = 0.5) -> float:
    """Poll ``condition`` until truthy; seconds it took (AssertionError naming ``what`` on timeout)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)
    return time.monotonic() - started


@dataclass
class StoreCount:
    """One agent's rows in the API store."""

    rows: int
    event_ids: int
    indices: set[int]

    @property
    def duplicates(self) -> int:
        return self.rows - self.event_ids

    def missing_below(self, n: int) -> int:
        """Frames ``0..n-1`` with no row."""
        return n - len(self.indices & set(range(n)))


def store_counts(db: str) -> dict[str, StoreCount]:
    """Rows per agent in the sink's SQLite database (``inspections``: one row per outcome)."""
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            rows = conn.execute("SELECT agent_id, event_id, item_id FROM inspections").fetchall()
    except sqlite3.OperationalError:
        return {}
    out: dict[str, StoreCount] = {}
    ids: dict[str, set[str]] = {}
    for agent_id, event_id, item_id in rows:
        count = out.setdefault(agent_id, StoreCount(0, 0, set()))
        count.rows += 1
        count.indices.add(int(str(item_id).rsplit("-", 1)[1]))
        ids.setdefault(agent_id, set()).add(event_id)
    for agent_id, count in out.items():
        count.event_ids = len(ids[agent_id])
    return out


def versions_in_store(db: str) -> dict[str, set[str]]:
    """The model versions each agent's stored outcomes were decided by."""
    out: dict[str, set[str]] = {}
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            pairs = conn.execute("SELECT DISTINCT agent_id, model_version FROM inspections").fetchall()
    except sqlite3.OperationalError:
        return out
    for agent_id, version in pairs:
        out.setdefault(agent_id, set()).add(version)
    return out


def read_all(
    settings: KafkaSettings, role: TopicRole, idle_s: float = 4.0, timeout_s: float = 90.0
) -> list[Any]:
    """Every event on ``role``'s topic from the start (no group), until ``idle_s`` without a new one."""
    got: list[Any] = []
    with TypedConsumer(settings, [role], None) as consumer:
        deadline, last = time.monotonic() + timeout_s, time.monotonic()
        while time.monotonic() < deadline:
            batch = [r.event for r in consumer.poll(500)]
            if batch:
                got, last = got + batch, time.monotonic()
            elif time.monotonic() - last > idle_s:
                break
    return got


@dataclass
class TopicCount:
    records: int
    event_ids: int

    @property
    def duplicates(self) -> int:
        """Records sent twice (a retried or re-drained batch): the sinks store each event id once."""
        return self.records - self.event_ids


def outcomes_on_topic(admin: KafkaSettings) -> dict[str, TopicCount]:
    by_agent: dict[str, Counter[str]] = {}
    for outcome in read_all(admin, TopicRole.OUTCOMES):
        by_agent.setdefault(outcome.agent_id, Counter())[outcome.event_id] += 1
    return {a: TopicCount(sum(c.values()), len(c)) for a, c in by_agent.items()}


def last_heartbeats(admin: KafkaSettings) -> dict[str, Any]:
    """Each agent's heartbeat with the most frames inspected (its final one once it stopped)."""
    out: dict[str, Any] = {}
    for event in read_all(admin, TopicRole.HEARTBEATS):
        if getattr(event, "kind", "") != "heartbeat":
            continue
        best = out.get(event.agent_id)
        if best is None or event.frames_inspected >= best.frames_inspected:
            out[event.agent_id] = event
    return out


def partition_of(key: str, partitions: int) -> int:
    """kafka-python's default partitioner (murmur2 of the key, as the Java client)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def outcome_leaders(admin: KafkaSettings, keys: list[str]) -> dict[str, int]:
    """The broker leading the outcomes partition of each station key."""
    _live, states = cluster_health(admin)
    outcomes = [s for s in states if s.topic == admin.topics[TopicRole.OUTCOMES]]
    return {key: outcomes[partition_of(key, len(outcomes))].leader for key in keys}


def fully_replicated(admin: KafkaSettings) -> bool:
    try:
        live, states = cluster_health(admin)
    except Exception as exc:  # a broker still joining: not yet
        logger.debug("health: %r", exc)
        return False
    return live == 3 and bool(states) and not any(s.under_replicated for s in states)
