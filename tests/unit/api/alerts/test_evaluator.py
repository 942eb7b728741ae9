"""The evaluator over a real SQLite database and a hand-moved clock: a finding fires once, stays open while
it holds, resolves when it stops; the cool-down holds back a new firing of the same rule and subject."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from api.alerts.config import parse_alerts
from api.alerts.delivery.base import Notice
from api.alerts.evaluator import Evaluator
from api.alerts.rules.base import Facts, Finding, Rule, RuleConfigBase
from api.alerts.service import AlertFilter, acknowledge, list_alerts
from api.db.engine import Database
from api.db.models import Base
from api.errors import ConflictError, NotFoundError
from tests.unit.api.alerts.facts import T0


class Scripted(Rule):
    """A rule whose findings the test sets (the subjects that hold now)."""

    def __init__(self, config: RuleConfigBase) -> None:
        self.config = config
        self.holding: list[str] = []

    def evaluate(self, facts: Facts, now: datetime) -> list[Finding]:
        return [Finding(s, f"{s} is bad", {"seen": now.isoformat()}, line_id="L1") for s in self.holding]


class Broken(Scripted):
    def evaluate(self, facts: Facts, now: datetime) -> list[Finding]:
        raise RuntimeError("query failed")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'alerts.db'}")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


Make = Callable[..., tuple[Evaluator, Scripted, list[Notice], list[datetime]]]


@pytest.fixture
def make(db: Database) -> Make:
    def build(
        cooldown_s: float = 600.0, extra: list[Rule] | None = None
    ) -> tuple[Evaluator, Scripted, list[Notice], list[datetime]]:
        config = parse_alerts({"rules": [{"type": "agent_offline", "name": "r", "cooldown_s": cooldown_s}]})
        rule = Scripted(config.rules[0])
        sent: list[Notice] = []
        clock = [T0]
        return Evaluator(db, [*(extra or []), rule], sent.append, lambda: clock[0]), rule, sent, clock

    return build


def test_fires_once_stays_open_and_resolves(make: Make, db: Database) -> None:
    ev, rule, sent, clock = make()
    rule.holding = ["agent:a1"]
    assert ev.run_once().fired == [("r", "agent:a1")]
    clock[0] += timedelta(seconds=30)
    assert ev.run_once().fired == []  # still open: no second firing, no second notice
    (open_,) = list_alerts(db, AlertFilter(state="open"))
    assert (open_.fired_at, open_.last_seen_at, open_.line_id) == (T0, clock[0], "L1")
    rule.holding = []
    clock[0] += timedelta(seconds=30)
    assert ev.run_once().resolved == [("r", "agent:a1")]
    (done,) = list_alerts(db, AlertFilter())
    assert (done.state, done.resolved_at) == ("resolved", clock[0])
    assert [(n.event, n.alert_id) for n in sent] == [("fired", done.id), ("resolved", done.id)]


@pytest.mark.parametrize(
    ("cooldown_s", "again_after_s", "fires_again"),
    [(600, 120, False), (600, 599, False), (600, 600, True), (0, 1, True)],
)
def test_cooldown(
    make: Make, db: Database, cooldown_s: float, again_after_s: float, fires_again: bool
) -> None:
    ev, rule, _sent, clock = make(cooldown_s)
    rule.holding = ["agent:a1"]
    ev.run_once()
    rule.holding = []
    clock[0] += timedelta(seconds=1)
    ev.run_once()
    rule.holding = ["agent:a1"]
    clock[0] = T0 + timedelta(seconds=again_after_s)
    out = ev.run_once()
    assert (out.fired == [("r", "agent:a1")]) is fires_again
    assert (out.cooling == [("r", "agent:a1")]) is not fires_again
    assert len(list_alerts(db, AlertFilter())) == (2 if fires_again else 1)


def test_subjects_are_apart(make: Make) -> None:
    ev, rule, _, _ = make()
    rule.holding = ["agent:a1", "agent:a2"]
    assert sorted(ev.run_once().fired) == [("r", "agent:a1"), ("r", "agent:a2")]


def test_a_broken_rule_does_not_silence_the_others(make: Make) -> None:
    config = parse_alerts({"rules": [{"type": "camera", "name": "broken"}]})
    ev, rule, _, _ = make(extra=[Broken(config.rules[0])])
    rule.holding = ["agent:a1"]
    out = ev.run_once()
    assert (out.failed, out.fired) == (["broken"], [("r", "agent:a1")])


def test_acknowledge_once(make: Make, db: Database) -> None:
    ev, rule, _, _ = make()
    rule.holding = ["agent:a1"]
    ev.run_once()
    (a,) = list_alerts(db, AlertFilter(acked=False))
    done = acknowledge(db, a.id, "sup-1", T0 + timedelta(minutes=1))
    assert (done.acked_by, done.acked_at) == ("sup-1", T0 + timedelta(minutes=1))
    assert list_alerts(db, AlertFilter(acked=False)) == []
    with pytest.raises(ConflictError, match="already acknowledged by sup-1"):
        acknowledge(db, a.id, "sup-2")
    with pytest.raises(NotFoundError):
        acknowledge(db, a.id + 1, "sup-2")
