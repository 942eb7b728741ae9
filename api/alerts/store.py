"""Alert rows: open a firing, keep it while its condition holds, resolve it, and record deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.alerts.delivery.base import Notice
from api.alerts.delivery.dispatcher import Delivery
from api.alerts.rules.base import Finding, RuleConfigBase, Severity
from api.db.models import AlertDeliveryRow, AlertRow

OPEN, RESOLVED = "open", "resolved"


def open_alerts(s: Session, rule: str) -> dict[str, AlertRow]:
    rows = s.scalars(select(AlertRow).where(AlertRow.rule == rule, AlertRow.state == OPEN)).all()
    return {r.subject: r for r in rows}


def last_fired(s: Session, rule: str, subjects: list[str]) -> dict[str, datetime]:
    """The latest firing time of each of ``subjects`` under ``rule`` (absent: never fired)."""
    if not subjects:
        return {}
    a = AlertRow
    rows = s.execute(
        select(a.subject, func.max(a.fired_at))
        .where(a.rule == rule, a.subject.in_(subjects))
        .group_by(a.subject)
    ).all()
    return {subject: a.fired_at.type.process_result_value(ts, None) for subject, ts in rows if ts is not None}


def fire(s: Session, config: RuleConfigBase, finding: Finding, now: datetime) -> AlertRow:
    row = AlertRow(
        rule=config.name,
        rule_type=str(getattr(config, "type", "")),
        severity=config.severity.value,
        subject=finding.subject,
        state=OPEN,
        message=finding.message,
        evidence=finding.evidence,
        line_id=finding.line_id,
        station_id=finding.station_id,
        agent_id=finding.agent_id,
        product=finding.product,
        fired_at=now,
        last_seen_at=now,
    )
    s.add(row)
    s.flush()  # its id, for the notice
    return row


def notice(row: AlertRow, event: str) -> Notice:
    return Notice(
        alert_id=row.id,
        event="resolved" if event == "resolved" else "fired",
        rule=row.rule,
        rule_type=row.rule_type,
        severity=Severity(row.severity),
        subject=row.subject,
        message=row.message,
        evidence=dict(row.evidence),
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        line_id=row.line_id,
        station_id=row.station_id,
        agent_id=row.agent_id,
        product=row.product,
    )


def record_delivery(s: Session, d: Delivery, now: datetime) -> None:
    s.add(
        AlertDeliveryRow(
            alert_id=d.alert_id,
            channel=d.channel,
            event=d.event,
            status=d.status,
            attempts=d.attempts,
            error=d.error[:4000] if d.error else None,
            ts=now,
        )
    )
