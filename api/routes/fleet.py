"""Fleet: each agent's last heartbeat, online/offline by its age, model version, fps, latency, buffer,
camera; one agent's heartbeats over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.context import AppContext, get_ctx
from api.db.models import AgentEventRow, AgentRow
from api.errors import NotFoundError
from api.routes.common import ERRORS, IdText
from api.security import Role, needs
from api.services.agent_history import HistoryBucket, agent_history, bucket_seconds

router = APIRouter(prefix="/fleet", tags=["fleet"], responses=ERRORS)


class AgentOut(BaseModel):
    agent_id: str
    line_id: str
    station_id: str
    last_seen: datetime
    age_s: float
    online: bool
    model_name: str | None
    model_version: str | None
    shadow_model_version: str | None
    fps: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    buffer_records: int
    buffer_bytes: int
    frames_dropped: int
    errors: int
    camera: dict[str, Any]
    last_model_error: str | None


class AgentEventOut(BaseModel):
    ts: datetime
    type: str
    deployment_id: str | None
    model_version: str | None
    detail: str


class AgentDetail(AgentOut):
    events: list[AgentEventOut]


def agent_out(row: AgentRow, offline_after_s: float, now: datetime | None = None) -> AgentOut:
    hb = row.heartbeat
    age = ((now or datetime.now(UTC)) - row.last_seen).total_seconds()
    return AgentOut(
        agent_id=row.agent_id,
        line_id=row.line_id,
        station_id=row.station_id,
        last_seen=row.last_seen,
        age_s=max(age, 0.0),
        online=age <= offline_after_s,
        model_name=row.model_name,
        model_version=row.model_version,
        shadow_model_version=(hb.get("shadow_model") or {}).get("version"),
        fps=row.fps,
        latency_p50_ms=row.latency_p50_ms,
        latency_p99_ms=row.latency_p99_ms,
        buffer_records=row.buffer_records,
        buffer_bytes=int(hb.get("buffer_bytes", 0)),
        frames_dropped=int(hb.get("frames_dropped", 0)),
        errors=int(hb.get("errors", 0)),
        camera=dict(hb.get("camera") or {}),
        last_model_error=hb.get("last_model_error"),
    )


def list_agents(ctx: AppContext, line_id: str | None = None) -> list[AgentOut]:
    stmt = select(AgentRow).order_by(AgentRow.line_id, AgentRow.station_id, AgentRow.agent_id)
    if line_id is not None:
        stmt = stmt.where(AgentRow.line_id == line_id)
    with ctx.db.session() as s:
        rows = list(s.scalars(stmt))
    return [agent_out(r, ctx.settings.offline_after_s) for r in rows]


@router.get(
    "/agents", response_model=list[AgentOut], summary="Agents and their status", **needs(Role.SUPERVISOR)
)
def agents(ctx: Annotated[AppContext, Depends(get_ctx)], line_id: IdText | None = None) -> list[AgentOut]:
    """``online`` is false when the last heartbeat is older than ``FACTORYLOOP_API_OFFLINE_AFTER_S`` (30
    s)."""
    return list_agents(ctx, line_id)


@router.get("/agents/{agent_id}", response_model=AgentDetail, summary="One agent", **needs(Role.SUPERVISOR))
def agent(
    agent_id: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")],
    ctx: Annotated[AppContext, Depends(get_ctx)],
    events: Annotated[int, Query(ge=0, le=200, description="How many recent agent events")] = 20,
) -> AgentDetail:
    with ctx.db.session() as s:
        row = s.get(AgentRow, agent_id)
        if row is None:
            raise NotFoundError(f"no heartbeat from agent {agent_id!r} yet")
        evs = list(
            s.scalars(
                select(AgentEventRow)
                .where(AgentEventRow.agent_id == agent_id)
                .order_by(AgentEventRow.ts.desc())
                .limit(events)
            )
        )
    base = agent_out(row, ctx.settings.offline_after_s)
    return AgentDetail(
        **base.model_dump(),
        events=[
            AgentEventOut(
                ts=e.ts,
                type=e.type,
                deployment_id=e.deployment_id,
                model_version=e.model_version,
                detail=e.detail,
            )
            for e in evs
        ],
    )


class AgentHistoryOut(BaseModel):
    agent_id: str
    since: datetime
    until: datetime
    bucket_s: int
    buckets: list[HistoryBucket] = Field(
        description="Buckets holding a heartbeat, oldest first (frames_dropped, errors: how many in it)"
    )


def read_history(ctx: AppContext, agent_id: str, hours: int, now: datetime | None = None) -> AgentHistoryOut:
    until = now or datetime.now(UTC)
    since = until - timedelta(hours=hours)
    size = bucket_seconds(until - since)
    since = datetime.fromtimestamp(since.timestamp() // size * size, UTC)  # buckets on round times
    with ctx.db.session() as s:
        if s.get(AgentRow, agent_id) is None:
            raise NotFoundError(f"no heartbeat from agent {agent_id!r} yet")
        buckets = agent_history(s, agent_id, since, until, size)
    return AgentHistoryOut(
        agent_id=agent_id,
        since=since,
        until=until,
        bucket_s=size,
        buckets=buckets,
    )


@router.get(
    "/agents/{agent_id}/history",
    response_model=AgentHistoryOut,
    summary="One agent's heartbeats over time, in buckets",
    **needs(Role.SUPERVISOR),
)
def history(
    agent_id: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")],
    ctx: Annotated[AppContext, Depends(get_ctx)],
    hours: Annotated[int, Query(ge=1, le=168, description="The last this many hours")] = 24,
) -> AgentHistoryOut:
    return read_history(ctx, agent_id, hours)
