"""Evaluate every rule against the database: a subject whose condition newly holds fires (unless its rule
fired for it within the cool-down), one that still holds stays open, one that stopped holding is resolved.
Notices of firings and resolutions go to the dispatcher after the transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from api.alerts.delivery.base import Notice
from api.alerts.facts import DbFacts
from api.alerts.rules.base import Finding, Rule
from api.alerts.store import RESOLVED, fire, last_fired, notice, open_alerts
from api.db.engine import Database

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Evaluation:
    """What one evaluation did: ``(rule, subject)`` pairs fired, resolved, held back by the cool-down;
    the rules that raised."""

    fired: list[tuple[str, str]] = field(default_factory=list)
    resolved: list[tuple[str, str]] = field(default_factory=list)
    cooling: list[tuple[str, str]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Evaluator:
    def __init__(
        self,
        db: Database,
        rules: list[Rule],
        submit: Callable[[Notice], None],
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.rules = rules
        self.submit = submit
        self.clock = clock

    def _apply(
        self, s: Session, rule: Rule, findings: list[Finding], now: datetime, out: Evaluation
    ) -> list[Notice]:
        c = rule.config
        found = {f.subject: f for f in findings}
        current = open_alerts(s, c.name)
        notices = []
        for subject, row in current.items():
            if subject in found:
                row.last_seen_at = now
            else:
                row.state, row.resolved_at = RESOLVED, now
                out.resolved.append((c.name, subject))
                notices.append(notice(row, "resolved"))
        new = [sub for sub in found if sub not in current]
        fired_at = last_fired(s, c.name, new)
        for subject in new:
            last = fired_at.get(subject)
            if last is not None and (now - last).total_seconds() < c.cooldown_s:
                out.cooling.append((c.name, subject))
                continue
            row = fire(s, c, found[subject], now)
            out.fired.append((c.name, subject))
            notices.append(notice(row, "fired"))
        return notices

    def run_once(self) -> Evaluation:
        now = self.clock()
        out = Evaluation()
        notices: list[Notice] = []
        with self.db.session() as s:
            facts = DbFacts(s)
            for rule in self.rules:
                try:
                    findings = rule.evaluate(facts, now)
                except Exception:  # one broken rule (or query) must not silence the others
                    logger.exception("alert rule %s failed", rule.config.name)
                    out.failed.append(rule.config.name)
                    continue
                notices += self._apply(s, rule, findings, now, out)
        for n in notices:  # committed: the ids exist for whoever follows the notice back
            self.submit(n)
        if out.fired or out.resolved:
            logger.info("alerts: fired %s, resolved %s", out.fired, out.resolved)
        return out
