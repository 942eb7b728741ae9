"""The triggers YAML (errors with their YAML path), the registry, the per-product queue and the worker."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.support.events import label
from training.errors import GateError, RetrainBusyError
from training.triggers import (
    Admission,
    NewLabelsTriggerConfig,
    RetrainQueue,
    RetrainRequest,
    RetrainWorker,
    TriggerConfigError,
    TriggerEvaluator,
    UnknownTriggerError,
    build_trigger,
    build_triggers,
    load_triggers,
)

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def _req(product: str, reason: str = "r", trigger: str = "manual", job: int | None = None) -> RetrainRequest:
    return RetrainRequest(product, trigger, reason, T0, job_ids=() if job is None else (job,))


def test_load_triggers_builds_every_type(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "triggers:\n"
        "  - {type: new_labels, min_labels: 5, classes: [crack]}\n"
        "  - {type: schedule, every_h: 24, products: [plate]}\n"
        "  - {type: confidence_drift, window: 100}\n"
        "  - {type: override_rate, max_rate: 0.5}\n"
    )
    names = [t.name for t in build_triggers(load_triggers(path), T0)]
    assert names == ["new_labels", "schedule", "confidence_drift", "override_rate"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("triggers:\n  - {type: new_labels, min_labels: 0}\n", "triggers[0].min_labels"),
        ("triggers:\n  - {type: schedule, every_h: 1}\n", "triggers[0].products"),
        ("triggers:\n  - {type: new_labels, bogus: 1}\n", "triggers[0].bogus"),
        ("triggers:\n  - {type: nope}\n", "triggers[0]"),
        ("check_every_s: -1\n", "check_every_s"),
        ("- just a list\n", "<root>"),
        ("triggers: [\n", "<yaml>"),
    ],
)
def test_bad_triggers_file_names_the_path(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(TriggerConfigError) as err:
        load_triggers(path)
    assert any(e.startswith(expected) for e in err.value.errors), err.value.errors
    assert str(path) in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TriggerConfigError, match="cannot read"):
        load_triggers(tmp_path / "absent.yaml")


def test_registry_refuses_unknown_type() -> None:
    class Odd(BaseModel):
        type: str = "odd"

    with pytest.raises(UnknownTriggerError, match="unknown trigger type 'odd'"):
        build_trigger(Odd(), T0)


def test_queue_one_running_and_one_waiting_per_product() -> None:
    q = RetrainQueue()
    assert q.submit(_req("a", "first")) is Admission.QUEUED
    assert q.submit(_req("a", "second", "new_labels", job=7)) is Admission.MERGED
    assert q.submit(_req("b")) is Admission.QUEUED
    first = q.take(0)
    assert first is not None and first.product == "a"
    assert first.reason == "first; second" and first.trigger == "multiple" and first.job_ids == (7,)
    assert q.submit(_req("a", "third")) is Admission.QUEUED  # waits while a runs
    second = q.take(0)
    assert second is not None and second.product == "b"
    assert q.take(0) is None  # a is running: its next request waits
    q.done("a")
    third = q.take(0)
    assert third is not None and third.reason == "third"


def test_merging_keeps_one_reason_per_trigger_and_every_api_job() -> None:
    q = RetrainQueue()
    for n in (100, 101, 102):  # a trigger that keeps firing while a request waits
        q.submit(_req("a", f"{n} new reviews", "new_labels"))
    q.submit(_req("a", "engineer", "api", job=1))
    q.submit(_req("a", "engineer again", "api", job=2))
    got = q.take(0)
    assert got is not None
    assert got.reason == "102 new reviews; engineer again" and got.job_ids == (1, 2)


def test_take_wakes_up_on_submit() -> None:
    q = RetrainQueue()
    got: list[RetrainRequest | None] = []
    t = threading.Thread(target=lambda: got.append(q.take(5)))
    t.start()
    q.submit(_req("a"))
    t.join(5)
    assert got and got[0] is not None and got[0].product == "a"


def test_evaluator_queues_once_and_resets_every_trigger() -> None:
    q = RetrainQueue()
    configs = (NewLabelsTriggerConfig(min_labels=2), NewLabelsTriggerConfig(min_labels=3))
    ev = TriggerEvaluator([build_trigger(c, T0) for c in configs], q)
    for _ in range(3):
        ev.observe(label(product="p"), T0)
    assert len(ev.check(T0)) == 2  # both fired ...
    assert len(q.waiting()) == 1  # ... one retrain
    assert ev.check(T0) == []  # evidence forgotten


@pytest.mark.parametrize(
    ("error", "ok", "summary"),
    [
        (None, True, "v2 promoted"),
        (GateError("no golden set"), False, "GateError: no golden set"),
        (RetrainBusyError("busy"), False, "busy"),
        (RuntimeError("boom"), False, "unexpected RuntimeError: boom"),
    ],
)
def test_worker_reports_every_end_and_frees_the_product(
    error: Exception | None, ok: bool, summary: str
) -> None:
    q = RetrainQueue()

    def run(request: RetrainRequest) -> str:
        if error is not None:
            raise error
        return "v2 promoted"

    seen = []
    worker = RetrainWorker(q, run, on_done=seen.append)
    q.submit(_req("p"))
    report = worker.step(0)
    assert report is not None and report.ok is ok and report.summary == summary and seen == [report]
    assert q.running() == set()
