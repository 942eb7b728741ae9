"""The stall check of a long-lived consumer (factoryloop.kafka.stall): behind the partition end at the same
position at two checks in a row is a stall; moving, caught up, or a broker that does not answer is not."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from kafka.errors import KafkaTimeoutError
from kafka.structs import TopicPartition

from factoryloop.kafka.stall import StallCheck

TP = TopicPartition("factoryloop.deployments", 0)


class FakeRaw:
    """A kafka-python consumer as the check sees it: its position and the partition's end, per check."""

    def __init__(self, states: Sequence[tuple[int, int] | None]) -> None:
        self.states = list(states)  # (position, end) at each check; None: the broker does not answer
        self.now: tuple[int, int] | None = None

    def next_check(self) -> None:
        self.now = self.states.pop(0)

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        if self.now is None:
            raise KafkaTimeoutError("no answer")
        return {TP: self.now[1]}

    def position(self, tp: TopicPartition) -> int:
        assert self.now is not None
        return self.now[0]


@pytest.mark.parametrize(
    ("states", "verdicts"),
    [
        ([(3, 7), (3, 7)], [False, True]),  # behind and not moving: stalled at the second check
        ([(3, 7), (5, 7), (7, 9)], [False, False, False]),  # behind but moving
        ([(7, 7), (7, 7), (7, 7)], [False, False, False]),  # caught up: nothing to fetch
        ([(3, 7), None, (3, 7), (3, 7)], [False, False, False, True]),  # no answer tells nothing
        ([(3, 7), (3, 9)], [False, True]),  # more records came, the position did not move: stalled
    ],
    ids=["stalled", "moving", "caught-up", "broker-down", "end-moved"],
)
def test_stalled(states: list[tuple[int, int] | None], verdicts: list[bool]) -> None:
    now = [0.0]
    check = StallCheck(every_s=30.0, clock=lambda: now[0])
    raw = FakeRaw(states)
    got = []
    for _ in verdicts:
        now[0] += 30.0
        raw.next_check()
        got.append(check.stalled(raw))
        assert not check.stalled(raw)  # not again before every_s
    assert got == verdicts
