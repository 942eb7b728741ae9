"""Which rows of the API's store are old enough to go: one retention per kind of data, from the settings.

A kind's cutoff is ``now - days`` (None: kept forever). The outcomes' cutoff is floored to a whole UTC hour:
the stats read whole hours from the hourly summaries and only the partial hours at a range's edges from the
inspections, so an hour is either all there or all gone, never half counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from api.settings import ApiSettings
from factoryloop.retention import cutoff_of, retention_days


class Kind(StrEnum):
    """In the order a run prunes them (what protects a later kind is decided by what stays of an earlier
    one, so a dry run and a real run count the same)."""

    REVIEW_QUEUE = "review_queue"
    REVIEWS = "reviews"
    OUTCOMES = "outcomes"
    FRAMES = "frames"
    HEARTBEATS = "heartbeats"
    AGENT_EVENTS = "agent_events"
    ALERTS = "alerts"
    ROLLOUTS = "rollouts"


def floor_hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Each kind's cutoff for one run (None: that kind is kept forever)."""

    now: datetime
    days: Mapping[Kind, int | None] = field(default_factory=dict)

    def retention(self, kind: Kind) -> int | None:
        return retention_days(self.days.get(kind))

    def of(self, kind: Kind) -> datetime | None:
        cutoff = cutoff_of(self.days.get(kind), self.now)
        if cutoff is not None and kind is Kind.OUTCOMES:
            return floor_hour(cutoff)
        return cutoff


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The retention of every kind, in days (0 or None: forever), and the rows deleted per transaction."""

    days: Mapping[Kind, int | None]
    batch_size: int = 2000

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> RetentionPolicy:
        days = {kind: getattr(settings, f"retention_{kind.value}_days") for kind in Kind}
        return cls(days=days, batch_size=settings.retention_batch_size)

    def cutoffs(self, now: datetime | None = None) -> Cutoffs:
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            raise ValueError("naive datetime: pass an aware (UTC) now")
        return Cutoffs(now=now.astimezone(UTC), days=dict(self.days))
