"""The sink opens its consumer again when it polls nothing while its partitions have records
(factoryloop.kafka.stall), between batches only: a sink whose writes fail polls records, never reopened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from api.frames.store import LocalFrameStore
from api.sink import runner as runner_module
from factoryloop.topics import TopicRole
from tests.unit.factoryloop.test_kafka_stall import FakeRaw


class StuckConsumer:
    """Polls nothing while its partition has records: what a stalled kafka-python consumer does."""

    opened = 0
    closed = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        type(self).opened += 1
        self.raw = FakeRaw([(3, 7)] * 1000)
        self.raw.highwater = lambda tp: None  # type: ignore[attr-defined]
        self.roles = (TopicRole.OUTCOMES,)
        self.dead_lettered = 0

    def poll(self, timeout_ms: int, max_records: int) -> list[Any]:
        self.raw.next_check()
        return []

    def consumed_offsets(self) -> dict[Any, Any]:
        return {}

    def close(self) -> None:
        type(self).closed += 1


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> runner_module.Sink:
    from factoryloop.settings import KafkaSettings

    StuckConsumer.opened = StuckConsumer.closed = 0
    monkeypatch.setattr(runner_module, "TypedConsumer", StuckConsumer)
    frames = LocalFrameStore(tmp_path)
    return runner_module.Sink(KafkaSettings(), create_engine("sqlite://"), frames, stall_check_s=0.0)


@pytest.mark.parametrize("pipeline", [False, True], ids=["serial", "pipelined"])
def test_a_stalled_sink_consumer_is_opened_again(sink: runner_module.Sink, pipeline: bool) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        for _ in range(4):  # behind at the same position: the second check is a stall, then again
            if pipeline:
                sink._step(pool, None)
            else:
                sink.run_once()
    assert (StuckConsumer.opened, StuckConsumer.closed, sink.stats.reopens) == (3, 2, 2)


def test_no_check_while_a_batch_is_in_flight(sink: runner_module.Sink) -> None:
    from concurrent.futures import Future

    done: Future[Any] = Future()
    done.set_exception(OSError("disk full"))  # the in-flight write fails: the sink rewinds, no stall check
    pending = runner_module._InFlight(done, [], {}, 0.0)
    sink._rewind = lambda: None  # type: ignore[method-assign]
    sink.retry_delay_s = 0.0
    for _ in range(4):
        assert sink._step(None, pending) is None  # type: ignore[arg-type]
    assert (StuckConsumer.opened, sink.stats.reopens) == (1, 0)
