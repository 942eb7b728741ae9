"""BatchHandoff: order, batches, close, and a full handoff blocking its producer (nothing dropped)."""

from __future__ import annotations

import threading
from collections import deque

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


class _EmptyOnce(deque[int]):
    """A deque that, the ``at``-th time the consumer thread finds it empty, lets the producer run first."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.seen = at, 0
        self.consumer: int | None = None
        self.found_empty, self.resume = threading.Event(), threading.Event()

    def __len__(self) -> int:
        n = super().__len__()
        if n == 0 and threading.get_ident() == self.consumer:
            self.seen += 1
            if self.seen == self.at:
                self.found_empty.set()
                self.resume.wait(5)
        return n


def test_items_put_right_before_close_are_never_lost() -> None:
    """The consumer finds the handoff empty (in its drain loop), then the producer puts its last items and
    closes before the consumer looks at ``closed``: those items must still come out."""
    handoff: BatchHandoff[int] = BatchHandoff(maxsize=100, interval_s=0.01)
    items = _EmptyOnce(at=2)  # 1st: the wait check at the top of get_batch; 2nd: the drain loop
    handoff._items = items
    got: list[int] = []

    def consume() -> None:
        items.consumer = threading.get_ident()
        while (batch := handoff.get_batch()) is not None:
            got.extend(batch)

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert items.found_empty.wait(5)
    for i in range(5):
        handoff.put(i)
    handoff.close()
    items.resume.set()
    consumer.join(5)
    assert got == list(range(5))
