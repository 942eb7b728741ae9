"""BatchHandoff: order, batches, close, and a full handoff blocking its producer (nothing dropped)."""

from __future__ import annotations

import threading

import pytest

from edge_agent.handoff import BatchHandoff


@pytest.mark.parametrize(("items", "maxsize"), [(0, 4), (3, 4), (10, 64)])
def test_everything_in_order_then_none_after_close(items: int, maxsize: int) -> None:
    handoff: BatchHandoff[int] = BatchHandoff(maxsize, interval_s=0.01)
    for i in range(items):
        handoff.put(i)
    handoff.close()
    got: list[int] = []
    while (batch := handoff.get_batch()) is not None:
        got.extend(batch)
    assert got == list(range(items))
    assert handoff.get_batch() is None  # stays closed


def test_a_batch_takes_everything_queued() -> None:
    handoff: BatchHandoff[int] = BatchHandoff(100, interval_s=0.01, wake_at=5)
    for i in range(7):
        handoff.put(i)
    assert handoff.qsize() == 7
    assert handoff.get_batch() == [0, 1, 2, 3, 4, 5, 6]
    assert handoff.qsize() == 0
    assert handoff.get_batch() == []  # nothing queued, not closed: an empty batch after the interval


def test_full_handoff_blocks_the_producer_and_loses_nothing() -> None:
    maxsize, total = 4, 200
    handoff: BatchHandoff[int] = BatchHandoff(maxsize, interval_s=0.005)
    high_water: list[int] = []

    def produce() -> None:
        for i in range(total):
            handoff.put(i)
            high_water.append(handoff.qsize())
        handoff.close()

    producer = threading.Thread(target=produce)
    producer.start()
    got: list[int] = []
    while (batch := handoff.get_batch()) is not None:
        got.extend(batch)
    producer.join()
    assert got == list(range(total))
    assert max(high_water) <= maxsize
