"""A typed consumer: decodes each record for its topic's role; what cannot be decoded goes to the dead-letter
topic (acknowledged before the batch is returned) so the consumer carries on and nothing is lost.

Offsets are committed only when the caller says its work is durable (``commit()``): at-least-once delivery,
with consumers deduplicating on ``event_id``.

The consumer subscribes once the cluster's metadata lists partitions for each of its topics (a few seconds at
most, e.g. for topics created just before): a group leader that assigns while a topic's metadata is missing
assigns none of its partitions ("No partition metadata for topic"), and kafka-python rebalances for it only at
the next metadata refresh (``metadata_max_age_ms``, 5 minutes), so such a consumer would read nothing for that
long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError

from factoryloop.errors import SchemaError
from factoryloop.kafka.diagnose import connect_error, explained
from factoryloop.kafka.producer import EventProducer
from factoryloop.schemas.codec import decode
from factoryloop.schemas.dead_letters import DeadLetter
from factoryloop.settings import KafkaSettings
from factoryloop.topics import FRAME_MAX_BYTES, TopicRole

logger = logging.getLogger(__name__)


METADATA_WAIT_S = 15.0  # for the partitions of freshly created topics (see the module docstring)


def _await_partitions(consumer: KafkaConsumer, topics: list[str], timeout_s: float) -> None:
    """Until the cluster's metadata lists partitions for every topic, or ``timeout_s`` (then a warning: the
    topic may be missing; the consumer still subscribes and picks it up at a later metadata refresh)."""
    deadline = time.monotonic() + timeout_s
    missing = list(topics)
    while missing:
        missing = [t for t in missing if not consumer.partitions_for_topic(t)]
        if not missing:
            return
        if time.monotonic() >= deadline:
            logger.warning("no partitions known for %s after %.0f s; subscribing anyway", missing, timeout_s)
            return
        time.sleep(0.1)


@dataclass(frozen=True, slots=True)
class Received:
    role: TopicRole
    topic: str
    partition: int
    offset: int
    key: bytes | None
    timestamp_ms: int
    event: Any  # the payload model, or FramePayload for frames


class TypedConsumer:
    def __init__(
        self,
        settings: KafkaSettings,
        roles: Iterable[TopicRole],
        group_id: str | None,
        *,
        dead_letters: EventProducer | None = None,
        auto_offset_reset: str = "earliest",
        max_poll_records: int = 500,
        **overrides: Any,
    ) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.roles = tuple(roles)
        self.group_id = group_id
        self._dead_letters = dead_letters
        self._owns_dlq = dead_letters is None
        self.dead_lettered = 0
        with explained(settings) as log:
            self._consumer = self._connect(
                settings, group_id, auto_offset_reset, max_poll_records, log, overrides
            )

    def _connect(
        self,
        settings: KafkaSettings,
        group_id: str | None,
        auto_offset_reset: str,
        max_poll_records: int,
        log: list[str],
        overrides: dict[str, Any],
    ) -> KafkaConsumer:
        try:
            consumer = KafkaConsumer(
                **settings.client_config(),
                group_id=group_id,
                enable_auto_commit=False,
                auto_offset_reset=auto_offset_reset,
                max_poll_records=max_poll_records,
                fetch_max_bytes=4 * FRAME_MAX_BYTES,
                max_partition_fetch_bytes=FRAME_MAX_BYTES,
                **overrides,
            )
            topics = [self.topics[r] for r in self.roles]
            _await_partitions(consumer, topics, METADATA_WAIT_S)
            consumer.subscribe(topics)
            return consumer
        except KafkaError as exc:
            roles = ", ".join(r.value for r in self.roles)
            raise connect_error(settings, f"to consume {roles}", exc, log) from exc

    @property
    def raw(self) -> KafkaConsumer:
        """The underlying kafka-python consumer (for seeking, assignment, metrics)."""
        return self._consumer

    def _dead_letter(self, record: Any, reason: str) -> None:
        if self._dead_letters is None:
            self._dead_letters = EventProducer(self.settings)
        letter = DeadLetter(
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            consumer_group=self.group_id,
            key_b64=DeadLetter.b64(record.key),
            value_b64=DeadLetter.b64(record.value or b"") or "",
            reason=reason,
        )
        # Wait for the acknowledgement: the offset of a bad record is committed only once its letter is safe.
        self._dead_letters.send_sync(TopicRole.DEAD_LETTERS, letter, key=record.topic)
        self.dead_lettered += 1
        logger.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)

    def poll(self, timeout_ms: int = 1000, max_records: int | None = None) -> list[Received]:
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        out: list[Received] = []
        for tp, records in batches.items():
            role = self.topics.role_of(tp.topic)
            for record in records:
                try:
                    event = decode(role, record.value)
                except SchemaError as exc:
                    self._dead_letter(record, str(exc))
                    continue
                out.append(
                    Received(
                        role,
                        record.topic,
                        record.partition,
                        record.offset,
                        record.key,
                        record.timestamp,
                        event,
                    )
                )
        return out

    def commit(self) -> None:
        """Commit the positions of everything returned by ``poll`` so far."""
        self._consumer.commit()

    def consumed_offsets(self) -> dict[Any, Any]:
        """What :meth:`commit` would commit now (partition -> offset after the last record returned), to be
        committed later with :meth:`commit_offsets`, e.g. once that batch is durable elsewhere."""
        # kafka-python keeps these in the subscription state; it has no public getter for them.
        return dict(self._consumer._subscription.all_consumed_offsets())

    def commit_offsets(self, offsets: dict[Any, Any]) -> None:
        """Commit positions taken earlier with :meth:`consumed_offsets`; raises the client's KafkaError."""
        if offsets:
            self._consumer.commit(offsets=offsets)

    def close(self) -> None:
        self._consumer.close(autocommit=False)
        if self._owns_dlq and self._dead_letters is not None:
            self._dead_letters.close()

    def __enter__(self) -> TypedConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
