"""A consumer's lag per topic role, from what it already knows (no request to the brokers).

Each fetch response carries its partition's high watermark (the offset the next record written will get);
the consumer's position is the offset after the last record ``poll`` returned. Their difference, summed over
the partitions this consumer owns, is how many records wait for it. Read it on the consumer's own thread,
right after a poll (kafka-python's consumer is not thread-safe); a partition fetched from for the first time
has no high watermark yet and counts 0.
"""

from __future__ import annotations

from factoryloop.kafka.consumer import TypedConsumer


def lag_by_role(consumer: TypedConsumer) -> dict[str, int]:
    """Records written but not yet returned by ``poll``, per role (``outcomes``, ...): every role the consumer
    reads is present, 0 when it owns none of its partitions (another member of the group reads them)."""
    lag = {role.value: 0 for role in consumer.roles}
    raw = consumer.raw
    for tp, position in consumer.consumed_offsets().items():
        highwater = raw.highwater(tp)
        if highwater is None:
            continue
        role = consumer.topics.role_of(tp.topic).value
        lag[role] = lag.get(role, 0) + max(0, highwater - position.offset)
    return lag
