"""Alerts: what the rules fired (open and recent, with evidence and deliveries), and acknowledging one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.alerts.service import AlertFilter, AlertOut, acknowledge, list_alerts
from api.context import AppContext, get_ctx
from api.routes.common import ERRORS, ErrorOut, IdText, Since
from api.security import Principal, Role, needs, require

router = APIRouter(tags=["alerts"], responses=ERRORS)


@router.get(
    "/alerts", response_model=list[AlertOut], summary="Alerts, newest first", **needs(Role.SUPERVISOR)
)
def alerts(
    ctx: Annotated[AppContext, Depends(get_ctx)],
    state: Literal["open", "resolved"] | None = None,
    severity: Literal["info", "warning", "critical"] | None = None,
    rule: IdText | None = None,
    line: IdText | None = None,
    station: IdText | None = None,
    agent: IdText | None = None,
    product: IdText | None = None,
    acked: Annotated[bool | None, Query(description="true: acknowledged only; false: not yet")] = None,
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AlertOut]:
    """Firings of the site's alert rules (``FACTORYLOOP_API_ALERTS_FILE``): ``open`` while the condition
    holds, ``resolved`` once it stopped (``resolved_at``), each with its evidence, acknowledgement and the
    outcome of every delivery (webhook, e-mail). ``since`` filters on the firing time."""
    f = AlertFilter(state, severity, rule, line, station, agent, product, acked, since, limit)
    return list_alerts(ctx.db, f)


@router.post(
    "/alerts/{alert_id}/ack",
    response_model=AlertOut,
    summary="Acknowledge an alert",
    responses={
        404: {"model": ErrorOut, "description": "Unknown alert"},
        409: {"model": ErrorOut, "description": "Already acknowledged (the message says by whom)"},
    },
    **needs(Role.SUPERVISOR),
)
def ack(
    alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.SUPERVISOR))],
) -> AlertOut:
    """Record that the caller has seen the alert (``acked_by``, ``acked_at``); it stays open until its
    condition clears."""
    return acknowledge(ctx.db, alert_id, principal.name)
