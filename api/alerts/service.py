"""Alerts as the routes and the dashboard show them: listed with filters (newest first, with deliveries)
and acknowledged (who and when)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update

from api.db.engine import Database
from api.db.models import AlertDeliveryRow, AlertRow
from api.errors import ConflictError, NotFoundError


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    channel: str
    event: str
    status: str
    attempts: int
    error: str | None
    ts: datetime


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    rule: str
    rule_type: str
    severity: Literal["info", "warning", "critical"]
    subject: str
    state: Literal["open", "resolved"]
    message: str
    evidence: dict[str, Any]
    line_id: str | None
    station_id: str | None
    agent_id: str | None
    product: str | None
    fired_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    acked_by: str | None
    acked_at: datetime | None
    deliveries: list[DeliveryOut] = []


@dataclass(frozen=True, slots=True)
class AlertFilter:
    state: str | None = None
    severity: str | None = None
    rule: str | None = None
    line_id: str | None = None
    station_id: str | None = None
    agent_id: str | None = None
    product: str | None = None
    acked: bool | None = None
    since: datetime | None = None
    limit: int = 100


def _out(rows: list[AlertRow], db: Database) -> list[AlertOut]:
    ids = [r.id for r in rows]
    by_alert: dict[int, list[DeliveryOut]] = {}
    if ids:
        with db.session() as s:
            d = AlertDeliveryRow
            for x in s.scalars(select(d).where(d.alert_id.in_(ids)).order_by(d.ts, d.id)):
                by_alert.setdefault(x.alert_id, []).append(DeliveryOut.model_validate(x))
    out = []
    for r in rows:
        item = AlertOut.model_validate(r)
        item.deliveries = by_alert.get(r.id, [])
        out.append(item)
    return out


def list_alerts(db: Database, f: AlertFilter) -> list[AlertOut]:
    a = AlertRow
    query = select(a)
    for column, value in (
        (a.state, f.state),
        (a.severity, f.severity),
        (a.rule, f.rule),
        (a.line_id, f.line_id),
        (a.station_id, f.station_id),
        (a.agent_id, f.agent_id),
        (a.product, f.product),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.acked is not None:
        query = query.where(a.acked_at.is_not(None) if f.acked else a.acked_at.is_(None))
    if f.since is not None:
        since = f.since if f.since.tzinfo else f.since.replace(tzinfo=UTC)
        query = query.where(a.fired_at >= since)
    with db.session() as s:
        rows = list(s.scalars(query.order_by(a.fired_at.desc(), a.id.desc()).limit(f.limit)))
    return _out(rows, db)


def acknowledge(db: Database, alert_id: int, who: str, now: datetime | None = None) -> AlertOut:
    """Record who acknowledged ``alert_id`` and when; :class:`ConflictError` if someone already did (the
    update only takes a row not acknowledged yet: two supervisors at once, one wins)."""
    a = AlertRow
    with db.session() as s:
        taken = s.execute(
            update(a)
            .where(a.id == alert_id, a.acked_at.is_(None))
            .values(acked_by=who, acked_at=now or datetime.now(UTC))
        )
        row = s.get(a, alert_id)
        if row is None:
            raise NotFoundError(f"no alert {alert_id}")
        if taken.rowcount == 0:  # type: ignore[attr-defined]
            raise ConflictError(
                f"alert {alert_id} was already acknowledged by {row.acked_by} at "
                f"{row.acked_at:%Y-%m-%d %H:%M:%S} UTC"
                if row.acked_at
                else f"alert {alert_id} was already acknowledged"
            )
    return _out([row], db)[0]
