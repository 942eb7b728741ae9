"""The dashboard's line overview (``/ui/``) and recent defects (``/ui/defects``), filtered by line, station,
shift and class: the same stats as ``/api/v1/stats`` (hourly summaries, the site's shift calendar), broken
down per line, station, shift and class."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from api.context import AppContext, get_ctx
from api.db.models import AgentRow
from api.errors import InvalidRequestError
from api.services import stats
from api.services.inspections import InspectionFilter, detections_of, list_inspections
from api.services.shifts import ShiftCalendar
from api.services.timerange import Bucket
from api.web import breakdowns as bd
from api.web.chart import defect_chart
from api.web.pages import _page, _redirect_login, _user

router = APIRouter(include_in_schema=False)
HOURS = (8, 24, 72, 168, 720)
_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
VERDICTS = ("FAIL", "UNCERTAIN")


def _id(value: str | None, pattern: re.Pattern[str] = _ID) -> str | None:
    return value if value and pattern.match(value) else None


def _class(value: str | None) -> str | None:
    return value if value and len(value) <= 64 and value.strip() == value else None


@dataclass(frozen=True, slots=True)
class Filters:
    """What the overview shows: the last ``hours``, on a line/station, in one shift, of one class."""

    hours: int = 24
    line_id: str | None = None
    station_id: str | None = None
    shift: str | None = None
    class_name: str | None = None
    bucket: Bucket = Bucket.HOUR

    @classmethod
    def parse(cls, q: Any, calendar: ShiftCalendar) -> Filters:
        """From query parameters; anything invalid is dropped (a page never fails on its filters)."""
        try:
            hours = int(q.get("hours") or 24)
        except ValueError:
            hours = 24
        hours = min(HOURS, key=lambda h: abs(h - hours))
        try:
            bucket = Bucket(q.get("bucket") or ("hour" if hours <= 72 else "day"))
        except ValueError:
            bucket = Bucket.HOUR
        shift = q.get("shift") if q.get("shift") in calendar.names else None
        line = _id(q.get("line_id"))
        return cls(hours, line, _id(q.get("station_id")), shift, _class(q.get("class_name")), bucket)

    def window(self, until: datetime) -> stats.Window:
        since = until - timedelta(hours=self.hours)
        return stats.Window(since, until, self.line_id, self.station_id, self.shift)

    def query(self, **change: Any) -> str:
        """This filter's query string with ``change`` applied (None drops a parameter)."""
        fields = {
            "hours": self.hours,
            "bucket": self.bucket.value,
            "line_id": self.line_id,
            "station_id": self.station_id,
            "shift": self.shift,
            "class_name": self.class_name,
        }
        return urlencode({k: v for k, v in {**fields, **change}.items() if v is not None})


def _options(ctx: AppContext, by_station: list[bd.Tally]) -> dict[str, list[str]]:
    """Lines and stations to choose: those with inspections in the window and those with an agent."""
    with ctx.db.session() as s:
        agents = list(s.execute(select(AgentRow.line_id, AgentRow.station_id)))
        classes = stats.known_classes(s)
    pairs = {(t.key[0], t.key[1]) for t in by_station} | {(a[0], a[1]) for a in agents}
    return {
        "lines": sorted({p[0] for p in pairs}),
        "stations": sorted({p[1] for p in pairs}),
        "class_names": classes,
    }


def overview_view(ctx: AppContext, f: Filters, now: datetime | None = None) -> dict[str, Any]:
    cal = ctx.settings.shift_calendar()
    w = f.window(now or datetime.now(UTC))
    with ctx.db.session() as s:
        points = stats.defect_rate(s, w, f.bucket, True, calendar=cal)
        shifts = stats.defect_rate(s, w, Bucket.SHIFT, False, calendar=cal)
        top = stats.top_classes(s, w, 20, cal)
        class_points = (
            stats.class_counts(s, replace(w, class_name=f.class_name), f.bucket, calendar=cal)
            if f.class_name
            else []
        )
        first = stats.first_seen(s, f.line_id)
    by_line = bd.tally(points, lambda p: (p["line_id"],))
    by_station = bd.tally(points, lambda p: (p["line_id"], p["station_id"]))
    inspected = sum(t.total for t in by_line)
    if f.class_name:  # one class: its boxes per inspection, per line
        chart_points = bd.class_rate_points(class_points, points, lambda p: p["line_id"])
    elif f.line_id:  # one line: a series per station
        chart_points = bd.series_points(points, lambda p: f"{p['line_id']}/{p['station_id']}")
    else:
        chart_points = bd.series_points(points, lambda p: p["line_id"])
    runs = bd.tally(shifts, lambda p: (p["bucket_start"].isoformat(), p["shift"]))
    return {
        "f": f,
        "hours_choices": HOURS,
        "shift_names": cal.names,
        "calendar": cal,
        "chart": defect_chart(chart_points, tz=cal.tz),
        "by_line": by_line,
        "by_station": by_station,
        "by_shift": bd.shift_order(bd.tally(shifts, lambda p: (p["shift"],)), cal.names),
        "shift_runs": [(datetime.fromisoformat(t.key[0]), t) for t in reversed(runs)][:12],
        "classes": bd.class_rows(top, inspected),
        "inspected": inspected,
        "first": first,
        **_options(ctx, by_station),
    }


@router.get("/ui/", response_class=HTMLResponse, response_model=None)
def overview(request: Request, ctx: Annotated[AppContext, Depends(get_ctx)]) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    f = Filters.parse(request.query_params, ctx.settings.shift_calendar())
    return _page(request, "overview.html", user, **overview_view(ctx, f))


def defects_view(ctx: AppContext, q: Any) -> dict[str, Any]:
    """The newest FAIL (or UNCERTAIN) inspections of a line/station/class, in one shift when ``shift_at``
    (epoch seconds of any moment in it) is given; ``cursor`` pages back."""
    cal = ctx.settings.shift_calendar()
    shift = None
    try:
        at = int(q.get("shift_at") or 0)
        shift = cal.at(at) if at > 0 else None
    except (ValueError, OverflowError, OSError):
        shift = None
    verdict = q.get("verdict") if q.get("verdict") in VERDICTS else "FAIL"
    flt = InspectionFilter(
        line_id=_id(q.get("line_id")),
        station_id=_id(q.get("station_id")),
        class_name=_class(q.get("class_name")),
        verdict=verdict,
        since=shift.start if shift else None,
        until=shift.end if shift else None,
    )
    cursor = q.get("cursor") if q.get("cursor") and len(q.get("cursor")) <= 200 else None
    with ctx.db.session() as s:
        try:
            rows, next_cursor = list_inspections(s, flt, 48, cursor)
        except InvalidRequestError:  # a damaged cursor in a link: the first page
            rows, next_cursor = list_inspections(s, flt, 48, None)
        dets = detections_of(s, [r.event_id for r in rows])
    now = datetime.now(UTC)
    runs = cal.instances(now - timedelta(hours=48), now)[::-1]
    keep = {
        "line_id": flt.line_id,
        "station_id": flt.station_id,
        "class_name": flt.class_name,
        "verdict": verdict,
        "shift_at": int(shift.start.timestamp()) if shift else None,
    }
    page = {k: v for k, v in {**keep, "cursor": next_cursor}.items() if v}
    older = urlencode(page) if next_cursor else None
    return {
        "rows": rows,
        "dets": dets,
        "flt": flt,
        "shift": shift,
        "runs": runs,
        "verdicts": VERDICTS,
        "older": older,
        **_options(ctx, []),
    }


@router.get("/ui/defects", response_class=HTMLResponse, response_model=None)
def defects(request: Request, ctx: Annotated[AppContext, Depends(get_ctx)]) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    return _page(request, "defects.html", user, **defects_view(ctx, request.query_params))
