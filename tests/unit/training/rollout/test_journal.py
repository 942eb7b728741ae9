"""The rollout journal: the rollbacks sent while MLflow did not answer, on local disk until MLflow records
them (written whole and atomically, read back by a restarted controller, a torn write ignored, a corrupt file
refused); and what a rollback sends (:func:`plan_rollback`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from factoryloop.schemas import RolloutEvent, RolloutState, Strategy
from training.errors import JournalError
from training.registry.models import RegisteredVersion
from training.rollout.journal import RollbackJournal, Unrecorded
from training.rollout.ledger import Rollout
from training.rollout.publish import rollback_to
from training.rollout.rollbacks import plan_rollback

PREFIX = "site-"
TAGS = {"onnx_sha256": "a" * 64, "class_names": json.dumps(["scratch"]), "imgsz": "160", "product": "steel"}


def version(v: str) -> RegisteredVersion:
    return RegisteredVersion(f"{PREFIX}steel", v, "r" * 32, f"mlflow-artifacts:/1/{v}/artifacts/model", TAGS)


@pytest.fixture
def entry() -> Callable[..., Unrecorded]:
    """An entry: v3 of ``product`` rolled back to v1."""

    def make(product: str = "steel", **fields: object) -> Unrecorded:
        dep = rollback_to(version("1"), "fleet", "3", "v3 rolled back: override rate 1.00 > 0.3", "trainer")
        event = RolloutEvent(
            rollout_id="r1" * 8,
            product=product,
            model_name=f"{PREFIX}{product}",
            model_version="3",
            state=RolloutState.ROLLED_BACK,
            reason="override rate 1.00 > 0.3",
        )
        u = Unrecorded(
            product=product,
            rollout_id="r1" * 8,
            version="3",
            reason="override rate 1.00 > 0.3",
            evidence={"reviews": 5.0, "override_rate": 1.0},
            back_to="1",
            ended="2026-11-30T18:00:00+00:00",
            deployment=dep,
            event=event,
            request_id="req-1",
        )
        return replace(u, **fields)  # type: ignore[arg-type]

    return make


def test_written_read_back_by_a_new_journal_and_cleared(
    tmp_path: Path, entry: Callable[..., Unrecorded]
) -> None:
    journal = RollbackJournal(tmp_path / "j", PREFIX)
    assert journal.load() == {}  # no folder yet: nothing pending
    first = entry()
    journal.write(first)
    journal.write(replace(first, sent=True))  # acknowledged: the whole file replaced
    assert [p.name for p in (tmp_path / "j").iterdir()] == ["site-steel.json"]

    again = RollbackJournal(tmp_path / "j", PREFIX).load()  # a restarted controller
    assert again == {"steel": replace(first, sent=True)}
    assert again["steel"].deployment.strategy is Strategy.ROLLBACK
    assert again["steel"].deployment == first.deployment  # as signed and sent: sent again as it is

    journal.clear("steel")
    journal.clear("steel")  # cleared twice: nothing to do
    assert journal.pending == {}
    assert RollbackJournal(tmp_path / "j", PREFIX).load() == {}


def test_a_torn_write_is_ignored_with_a_warning(
    tmp_path: Path, entry: Callable[..., Unrecorded], caplog: pytest.LogCaptureFixture
) -> None:
    journal, written = RollbackJournal(tmp_path, PREFIX), entry()
    journal.write(written)
    (tmp_path / "site-steel.json.tmp").write_text('{"product": "steel", "rollout_')  # a crash mid-write
    (tmp_path / "site-plate.json.tmp").write_text("{")  # the first write of another product, torn
    with caplog.at_level(logging.WARNING, logger="training.rollout.journal"):
        loaded = RollbackJournal(tmp_path, PREFIX).load()
    assert loaded == {"steel": written}  # the file the torn write was to replace holds
    torn = [r.getMessage() for r in caplog.records if "crash interrupted" in r.getMessage()]
    assert len(torn) == 2, caplog.text
    assert not list(tmp_path.glob("*.tmp"))  # removed: not warned about again


@pytest.mark.parametrize(
    "content",
    [
        '{"product": "steel", "rollout_',  # truncated
        "[]",  # not an object
        '{"product": "steel"}',  # fields missing
        "not json at all",
    ],
    ids=["truncated", "list", "fields-missing", "garbage"],
)
def test_a_corrupt_file_is_refused_saying_what_to_do(tmp_path: Path, content: str) -> None:
    (tmp_path / "site-steel.json").write_text(content)
    with pytest.raises(JournalError) as refused:
        RollbackJournal(tmp_path, PREFIX).load()
    said = str(refused.value)
    assert str(tmp_path / "site-steel.json") in said
    assert "site-steel" in said and "delete the file" in said


def test_a_corrupt_field_is_refused(tmp_path: Path, entry: Callable[..., Unrecorded]) -> None:
    journal = RollbackJournal(tmp_path, PREFIX)
    journal.write(entry())
    data = json.loads((tmp_path / "site-steel.json").read_text())
    data["deployment"]["strategy"] = "sideways"
    (tmp_path / "site-steel.json").write_text(json.dumps(data))
    with pytest.raises(JournalError, match="unreadable"):
        RollbackJournal(tmp_path, PREFIX).load()


def test_only_this_registrys_files_are_read(tmp_path: Path, entry: Callable[..., Unrecorded]) -> None:
    RollbackJournal(tmp_path, "other-").write(entry())
    (tmp_path / "unrelated.json").write_text("not ours")
    journal = RollbackJournal(tmp_path, PREFIX)
    assert journal.load() == {}
    journal.write(entry("plate"))
    assert set(RollbackJournal(tmp_path, PREFIX).load()) == {"plate"}


def test_a_journal_that_cannot_be_written_says_so(tmp_path: Path, entry: Callable[..., Unrecorded]) -> None:
    (tmp_path / "file").write_text("a file where the folder should be")
    journal = RollbackJournal(tmp_path / "file" / "journal", PREFIX)
    with pytest.raises(JournalError, match="could not be written"):
        journal.write(entry())
    assert journal.pending == {}  # nothing pending that is not on disk


@pytest.mark.parametrize(
    ("shadow", "previous", "to", "state", "strategy", "back"),
    [
        (False, "1", None, RolloutState.ROLLED_BACK, Strategy.ROLLBACK, "1"),
        (False, "1", "2", RolloutState.ROLLED_BACK, Strategy.ROLLBACK, "2"),
        (True, None, None, RolloutState.ROLLED_BACK, Strategy.END_SHADOW, None),
        (False, None, None, RolloutState.HALTED, None, None),
    ],
    ids=["to-previous", "to-asked", "shadow-nothing-to-go-back-to", "canary-nothing-to-go-back-to"],
)
def test_what_a_rollback_sends(
    shadow: bool,
    previous: str | None,
    to: str | None,
    state: RolloutState,
    strategy: Strategy | None,
    back: str | None,
) -> None:
    r = Rollout(
        "r" * 16,
        "steel",
        version("3"),
        version(previous) if previous else None,
        (("a",), ()),
        shadow_rates=(0.5,) if shadow else (),
    )
    plan = plan_rollback(r, "override rate 1.00 > 0.3", version(to) if to else None)
    assert plan.state is state
    assert (plan.deployment.strategy if plan.deployment else None) is strategy
    assert (plan.back.version if plan.back else None) == back
    assert "override rate" in plan.reason and "override rate" in plan.said
