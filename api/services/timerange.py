"""Validated time ranges and SQL time buckets (hour, shift, day) for SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Integer, cast, func
from sqlalchemy.sql.elements import ColumnElement

from api.errors import InvalidRequestError

MAX_RANGE = timedelta(days=400)
MAX_BUCKETS = 20_000


class Bucket(StrEnum):
    HOUR = "hour"
    SHIFT = "shift"
    DAY = "day"


EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def as_utc(value: datetime) -> datetime:
    """To aware UTC; refuses times before 1970 or after 9000 (epoch arithmetic and defaults stay in range)."""
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidRequestError(f"timestamp out of range: {exc}") from exc
    if not EARLIEST <= value <= LATEST:
        raise InvalidRequestError(f"timestamp {value.isoformat()} outside {EARLIEST.year}-{LATEST.year}")
    return value


def check_range(
    since: datetime | None, until: datetime | None, default: timedelta | None = None
) -> tuple[datetime | None, datetime | None]:
    """Normalise to UTC; refuse reversed or too long ranges. ``default`` fills a missing ``since``."""
    until = as_utc(until) if until is not None else None
    if since is None and default is not None:
        since = max((until or datetime.now(UTC)) - default, EARLIEST)
    since = as_utc(since) if since is not None else None
    if since is not None and until is not None:
        if since > until:
            raise InvalidRequestError(
                f"time range is reversed: since {since.isoformat()} > until {until.isoformat()}"
            )
        if until - since > MAX_RANGE:
            raise InvalidRequestError(f"time range longer than {MAX_RANGE.days} days; narrow it")
    return since, until


def bucket_seconds(bucket: Bucket, shift_hours: int) -> int:
    return {Bucket.HOUR: 3600, Bucket.SHIFT: shift_hours * 3600, Bucket.DAY: 86400}[bucket]


def epoch_seconds(column: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), Integer)


def bucket_expr(column: Any, dialect: str, width_s: int, offset_s: int = 0) -> ColumnElement[Any]:
    """Start of the bucket (epoch seconds) containing ``column``: floor((t - offset) / width) * width +
    offset."""
    # Integer floor division (timestamps are after 1970, so truncation is floor).
    return (epoch_seconds(column, dialect) - offset_s) // width_s * width_s + offset_s


def from_epoch(seconds: int | float) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)
