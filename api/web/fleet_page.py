"""The fleet page of the dashboard (``/ui/fleet``): each agent's model, fps, latency, buffer depth against its
budget and camera health from its latest heartbeat, offline agents marked, the open alerts per agent, and
the deployments. Figures go through the dashboard's filters (``api.web.formats``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from api.alerts.rules.camera import CameraConfig, CameraRule, problems
from api.alerts.service import AlertFilter, AlertOut, list_alerts
from api.context import AppContext, get_ctx
from api.db.models import AgentRow
from api.routes.deployments import history
from api.routes.fleet import AgentOut, agent_out
from api.web.pages import _page, _redirect_login, _user

router = APIRouter(include_in_schema=False)
DEFAULT_CAMERA = CameraConfig(name="fleet-page")


@dataclass(frozen=True, slots=True)
class FleetAgent:
    """One row of the fleet page."""

    agent: AgentOut
    product: str | None
    uptime_s: float | None
    reject_p99_ms: float | None
    buffer_budget: int | None  # bytes; None when the agent does not report it
    camera_state: str  # ok, or the failed checks: disconnected, blur, frozen, dark; unknown when offline
    camera_notes: tuple[str, ...]
    alerts: tuple[AlertOut, ...]

    @property
    def buffer_fill(self) -> float | None:
        if not self.buffer_budget:
            return None
        return min(self.agent.buffer_bytes / self.buffer_budget, 1.0)

    @property
    def buffer_state(self) -> str:
        fill = self.buffer_fill
        return "unknown" if fill is None else "full" if fill >= 0.8 else "filling" if fill >= 0.2 else "ok"


def camera_config(request: Request) -> CameraConfig:
    """The site's camera rule (its thresholds), else the rule's defaults."""
    runner = getattr(request.app.state, "alerts", None)
    for rule in getattr(getattr(runner, "evaluator", None), "rules", ()):
        if isinstance(rule, CameraRule):
            return rule.config
    return DEFAULT_CAMERA


def camera_of(heartbeat: dict[str, Any], online: bool, config: CameraConfig) -> tuple[str, tuple[str, ...]]:
    """The camera's state and what was seen: ``ok``, the failed checks (``blur, frozen``), or ``unknown``
    (an offline agent's last report is no longer the camera's state)."""
    camera = heartbeat.get("camera") or {}
    found = problems(camera, config)
    notes = tuple(found.values())
    if not online:
        return "unknown", notes
    return (", ".join(found) if found else "ok"), notes


def fleet_rows(
    ctx: AppContext, config: CameraConfig, now: datetime | None = None, agent_id: str | None = None
) -> list[FleetAgent]:
    """Every agent's row, or only ``agent_id``'s (its page)."""
    now = now or datetime.now(UTC)
    query = select(AgentRow).order_by(AgentRow.line_id, AgentRow.station_id, AgentRow.agent_id)
    if agent_id is not None:
        query = query.where(AgentRow.agent_id == agent_id)
    with ctx.db.session() as s:
        rows = list(s.scalars(query))
    alerts: dict[str, list[AlertOut]] = {}
    for a in list_alerts(ctx.db, AlertFilter(state="open", agent_id=agent_id, limit=500)):
        if a.agent_id:
            alerts.setdefault(a.agent_id, []).append(a)
    out = []
    for row in rows:
        agent = agent_out(row, ctx.settings.offline_after_s, now)
        hb = row.heartbeat or {}
        state, notes = camera_of(hb, agent.online, config)
        budget = hb.get("buffer_max_bytes")
        out.append(
            FleetAgent(
                agent=agent,
                product=hb.get("product"),
                uptime_s=hb.get("uptime_s"),
                reject_p99_ms=hb.get("reject_latency_p99_ms"),
                buffer_budget=int(budget) if budget else None,
                camera_state=state,
                camera_notes=notes,
                alerts=tuple(alerts.get(row.agent_id, ())),
            )
        )
    return out


@router.get("/ui/fleet", response_class=HTMLResponse, response_model=None)
def fleet(request: Request, ctx: Annotated[AppContext, Depends(get_ctx)]) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    agents = fleet_rows(ctx, camera_config(request))
    return _page(
        request,
        "fleet.html",
        user,
        agents=agents,
        online=sum(a.agent.online for a in agents),
        offline_after_s=ctx.settings.offline_after_s,
        deployments=history(ctx, None, 20),
    )
