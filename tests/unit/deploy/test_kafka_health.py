"""Under-replicated partitions from kafka-python's describe_topics answer.

Its field names are the Metadata response's; the integration test (test_kafka_roles) reads a real one.
"""

from __future__ import annotations

import pytest

from factoryloop.site.kafka_health import partition_states


@pytest.mark.parametrize(
    ("leader", "replicas", "isr", "under"),
    [
        (1, [1, 2, 3], [1, 2, 3], False),
        (1, [1, 2, 3], [1, 3], True),
        (-1, [1, 2, 3], [], True),
        (2, [2], [2], False),
    ],
)
def test_under_replicated(leader: int, replicas: list[int], isr: list[int], under: bool) -> None:
    metadata = [
        {
            "name": "factoryloop.outcomes",
            "partitions": [
                {"partition_index": 0, "leader_id": leader, "replica_nodes": replicas, "isr_nodes": isr}
            ],
        }
    ]
    (state,) = partition_states(metadata)
    assert state.under_replicated is under
    assert (state.topic, state.partition) == ("factoryloop.outcomes", 0)


def test_states_are_sorted() -> None:
    metadata = [
        {"name": "b", "partitions": [{"partition_index": 1}, {"partition_index": 0}]},
        {"name": "a", "partitions": []},
    ]
    assert [(s.topic, s.partition) for s in partition_states(metadata)] == [("b", 0), ("b", 1)]
