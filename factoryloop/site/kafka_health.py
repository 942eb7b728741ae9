"""Is the site's cluster safe to restart the next broker? Under-replicated partitions of factoryloop's topics.

A rolling restart or upgrade takes one broker at a time and waits, before the next, until every partition is
back to its full in-sync replica set (``factoryloop deploy kafka-health`` exits 0). Reads the connection from
``FACTORYLOOP_KAFKA_*`` like every other client.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from factoryloop.kafka.admin import admin_client
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartitionState:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas) or self.leader < 0


def partition_states(metadata: list[dict[str, Any]]) -> list[PartitionState]:
    """Partitions of kafka-python's ``describe_topics`` answer (Metadata response field names)."""
    out = []
    for topic in metadata:
        for p in topic.get("partitions", []):
            out.append(
                PartitionState(
                    topic["name"],
                    int(p["partition_index"]),
                    int(p.get("leader_id", -1)),
                    tuple(p.get("replica_nodes", ())),
                    tuple(p.get("isr_nodes", ())),
                )
            )
    return sorted(out, key=lambda s: (s.topic, s.partition))


def cluster_health(settings: KafkaSettings) -> tuple[int, list[PartitionState]]:
    """(live brokers, the partitions of factoryloop's topics that exist) on the cluster ``settings`` reach."""
    client = admin_client(settings)
    try:
        brokers = len(client.describe_cluster().get("brokers", []))
        existing = set(client.list_topics())
        names = [settings.topics[role] for role in TopicRole if settings.topics[role] in existing]
        metadata = client.describe_topics(names) if names else []
    finally:
        with contextlib.suppress(Exception):
            client.close()
    return brokers, partition_states(metadata)
