"""Rewind a consumer group to a time: after restoring a database from a backup, replay what it missed.

The API's sinks (group ``factoryloop-api-sink``) ignore events they already stored (``event_id``), and the
trainer's ingest ignores images it has, so rewinding their group to the backup's time and starting them again
refills the restored store from what Kafka still retains. The group must have no running member.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from kafka import TopicPartition
from kafka.admin import OffsetTimestamp

from factoryloop.kafka.admin import admin_client
from factoryloop.settings import KafkaSettings

logger = logging.getLogger(__name__)


def to_epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("give the time with its zone, e.g. 2026-11-30T06:00:00+00:00")
    return int(moment.timestamp() * 1000)


def rewind_group(settings: KafkaSettings, group: str, since: datetime) -> dict[TopicPartition, int]:
    """Set ``group``'s committed offset of every partition it has one for to the first record at ``since``.

    Returns the new offsets; raises ``ValueError`` when the group has committed nothing (wrong name?) or a
    partition could not be reset (a member still running).
    """
    ms = to_epoch_ms(since)
    client = admin_client(settings)
    try:
        committed = client.list_group_offsets({group: None}).get(group, {})
        if not committed:
            raise ValueError(f"consumer group {group!r} has no committed offsets")
        result = client.reset_group_offsets(group, {tp: OffsetTimestamp(ms) for tp in committed})
    finally:
        with contextlib.suppress(Exception):
            client.close()
    failed = {tp: r["error"] for tp, r in result.items() if r.get("error") is not None and r["error"].errno}
    if failed:
        raise ValueError(
            f"could not reset {len(failed)} partition(s) of {group!r} (a member running?): {failed}"
        )
    offsets = {tp: int(r["offset"]) for tp, r in result.items()}
    logger.info("group %s rewound to %s on %d partitions", group, since.isoformat(), len(offsets))
    return offsets
