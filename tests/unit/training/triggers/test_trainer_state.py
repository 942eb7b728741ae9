"""The trainer's durable state: the retrain queue (waiting requests, a running one queued again) and the
schedule's last runs survive a new queue/trigger on the same state file, as after a trainer restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from training.errors import TrainingStopped
from training.triggers import (
    Admission,
    RetrainQueue,
    RetrainRequest,
    RetrainWorker,
    ScheduleTrigger,
    ScheduleTriggerConfig,
    TrainerState,
)

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


@pytest.fixture
def open_state(tmp_path: Path) -> Iterator[Callable[[], TrainerState]]:
    """Open the same state file again, like a restarted trainer (earlier ones stay open: a killed one)."""
    opened: list[TrainerState] = []

    def make() -> TrainerState:
        opened.append(TrainerState(tmp_path / "state" / "trainer-state.sqlite"))
        return opened[-1]

    yield make
    for state in opened:
        state.close()


def _req(product: str, reason: str = "r", trigger: str = "manual", job: int | None = None) -> RetrainRequest:
    return RetrainRequest(product, trigger, reason, T0, job_ids=() if job is None else (job,))


def _view(queue: RetrainQueue) -> list[tuple[str, str, str, tuple[int, ...]]]:
    return [(r.product, r.trigger, r.reason, r.job_ids) for r in queue.waiting()]


# Each step: ("submit", request) | ("take", product expected) | ("done", product) | ("restart", None).
Step = tuple[str, object]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (  # waiting requests come back in order, with their API jobs
            [("submit", _req("a", "first", "new_labels")), ("submit", _req("b", "engineer", "api", 7))],
            [("a", "new_labels", "first", ()), ("b", "api", "engineer", (7,))],
        ),
        (  # merged reasons are kept per trigger across the restart
            [
                ("submit", _req("a", "100 new", "new_labels")),
                ("submit", _req("a", "engineer", "api", 1)),
                ("restart", None),
                ("submit", _req("a", "150 new", "new_labels")),
            ],
            [("a", "multiple", "150 new; engineer", (1,))],
        ),
        (  # a retrain running when the trainer died is queued again, ahead of the rest
            [("submit", _req("b", "was running")), ("submit", _req("a", "waited")), ("take", "b")],
            [("b", "manual", "was running", ()), ("a", "manual", "waited", ())],
        ),
        (  # ... merged with the request that waited behind it for the same product
            [
                ("submit", _req("a", "120 crack", "new_labels", 3)),
                ("take", "a"),
                ("submit", _req("a", "engineer", "api", 4)),
                ("submit", _req("b")),
            ],
            [("a", "multiple", "120 crack; engineer", (3, 4)), ("b", "manual", "r", ())],
        ),
        (  # a finished retrain is gone
            [("submit", _req("a")), ("take", "a"), ("done", "a")],
            [],
        ),
    ],
)
def test_queue_survives_a_restart(
    open_state: Callable[[], TrainerState], steps: list[Step], expected: list[tuple[object, ...]]
) -> None:
    queue = RetrainQueue(open_state())
    for op, arg in steps:
        if op == "submit":
            assert isinstance(arg, RetrainRequest)
            queue.submit(arg)
        elif op == "take":
            taken = queue.take(0)
            assert taken is not None and taken.product == arg
        elif op == "done":
            queue.done(str(arg))
        else:
            queue = RetrainQueue(open_state())
    again = RetrainQueue(open_state())  # the restart
    assert _view(again) == expected
    assert again.running() == set()


def test_requeued_retrain_runs_once_then_the_queue_is_empty(open_state: Callable[[], TrainerState]) -> None:
    queue = RetrainQueue(open_state())
    queue.submit(_req("a", job=9))
    assert queue.take(0) is not None  # running, then the trainer dies
    restarted = RetrainQueue(open_state())
    ran: list[RetrainRequest] = []
    worker = RetrainWorker(restarted, lambda r: ran.append(r) or "ok")
    report = worker.step(0)
    assert report is not None and report.ok and [r.job_ids for r in ran] == [(9,)]
    assert worker.step(0) is None
    assert _view(RetrainQueue(open_state())) == []


def test_a_retrain_stopped_with_the_trainer_stays_queued(open_state: Callable[[], TrainerState]) -> None:
    queue = RetrainQueue(open_state())
    queue.submit(_req("a", "120 crack", "new_labels", 5))

    def stopped(request: RetrainRequest) -> str:
        raise TrainingStopped("training stopped at epoch 3: the trainer is stopping")

    assert RetrainWorker(queue, stopped).step(0) is None  # no report: it did not end, it was interrupted
    assert _view(RetrainQueue(open_state())) == [("a", "new_labels", "120 crack", (5,))]


def test_in_memory_queue_keeps_nothing(open_state: Callable[[], TrainerState]) -> None:
    assert RetrainQueue().submit(_req("a")) is Admission.QUEUED
    assert _view(RetrainQueue(open_state())) == []


@pytest.mark.parametrize(
    ("restart_after_h", "due_h", "expected"),
    [
        (1, 2, ["a"]),  # counted from the first start, not from the restart
        (1, 1.5, []),
        (3, 3, ["a"]),
    ],
)
def test_schedule_counts_from_its_stored_last_run(
    open_state: Callable[[], TrainerState], restart_after_h: float, due_h: float, expected: list[str]
) -> None:
    config = ScheduleTriggerConfig(every_h=2, products=("a",))
    ScheduleTrigger(config, T0, open_state())
    restarted = ScheduleTrigger(config, T0 + timedelta(hours=restart_after_h), open_state())
    assert [r.product for r in restarted.due(T0 + timedelta(hours=due_h))] == expected


def test_schedule_reset_is_stored(open_state: Callable[[], TrainerState]) -> None:
    config = ScheduleTriggerConfig(every_h=2, products=("a", "b"))
    trigger = ScheduleTrigger(config, T0, open_state())
    trigger.reset("a", T0 + timedelta(hours=2))
    restarted = ScheduleTrigger(config, T0 + timedelta(hours=2), open_state())
    assert [r.product for r in restarted.due(T0 + timedelta(hours=3))] == ["b"]
