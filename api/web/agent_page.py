"""One agent's page of the dashboard (``/ui/fleet/{agent_id}``): its state now (the fleet page's row), its
history over the last hour, 6 hours, day or week from stored heartbeats (throughput, latency, disk buffer,
dropped frames and errors, in charts; ``api.services.agent_history``), the models it served, and its recent
events (model loads and refusals, camera and connection changes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from api.context import AppContext, get_ctx
from api.errors import NotFoundError
from api.routes.fleet import AgentHistoryOut, agent, read_history
from api.web.fleet_page import camera_config, fleet_rows
from api.web.formats import count, fps, ms
from api.web.history_chart import HistoryChart, history_chart
from api.web.pages import _page, _redirect_login, _user

router = APIRouter(include_in_schema=False)
PERIODS = {1: "1 hour", 6: "6 hours", 24: "24 hours", 168: "7 days"}


def charts(history: AgentHistoryOut, ctx: AppContext) -> list[HistoryChart]:
    tz = ctx.settings.shift_calendar().tz
    b = history.buckets
    at = [x.start for x in b]
    window = (history.since, history.until, history.bucket_s)

    def chart(
        chart_id: str, title: str, series: dict[str, Sequence[float | None]], fmt: Callable[[float], str]
    ) -> HistoryChart:
        paired = {name: list(zip(at, values, strict=True)) for name, values in series.items()}
        return history_chart(chart_id, title, paired, *window, fmt, tz=tz)

    return [
        chart("chart-fps", "Throughput", {"fps (mean)": [x.fps for x in b]}, fps),
        chart(
            "chart-latency",
            "Inference latency",
            {"p99 (worst)": [x.latency_p99_ms for x in b], "p50": [x.latency_p50_ms for x in b]},
            ms,
        ),
        chart(
            "chart-buffer",
            "Records waiting in the disk buffer",
            {"deepest": [x.buffer_records for x in b]},
            count,
        ),
        chart(
            "chart-losses",
            "Dropped frames and errors per bucket",
            {"dropped": [x.frames_dropped for x in b], "errors": [x.errors for x in b]},
            count,
        ),
    ]


def served(history: AgentHistoryOut) -> list[tuple[str, datetime]]:
    """The model versions in the window, each with the first bucket it was reported in."""
    out: list[tuple[str, datetime]] = []
    for x in history.buckets:
        if x.model_version and (not out or out[-1][0] != x.model_version):
            out.append((x.model_version, x.start))
    return out


@router.get("/ui/fleet/{agent_id}", response_class=HTMLResponse, response_model=None)
def agent_page(
    request: Request,
    agent_id: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")],
    ctx: Annotated[AppContext, Depends(get_ctx)],
    hours: Annotated[int, Query(description="1, 6, 24 or 168")] = 24,
) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    if hours not in PERIODS:
        hours = 24
    row = next(iter(fleet_rows(ctx, camera_config(request), agent_id=agent_id)), None)
    if row is None:
        return _page(request, "agent.html", user, status_code=404, agent_id=agent_id, row=None)
    try:
        history = read_history(ctx, agent_id, hours)
        detail = agent(agent_id, ctx, events=30)
    except NotFoundError:  # pruned meanwhile
        return _page(request, "agent.html", user, status_code=404, agent_id=agent_id, row=None)
    return _page(
        request,
        "agent.html",
        user,
        agent_id=agent_id,
        row=row,
        hours=hours,
        periods=PERIODS,
        history=history,
        charts=charts(history, ctx),
        served=served(history),
        events=detail.events,
    )
