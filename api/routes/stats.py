"""Statistics: defect rate and counts per line/station/class over hour, shift or day buckets (the site's shift
calendar and time zone), filtered by line, station, product or one shift; the reviewers' effort
(``/stats/reviews``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.context import AppContext, get_ctx
from api.errors import InvalidRequestError
from api.routes.common import ERRORS, IdText, Since, Until
from api.security import Role, needs
from api.services import stats
from api.services.review_stats import review_stats
from api.services.timerange import MAX_BUCKETS, Bucket, check_range

router = APIRouter(prefix="/stats", tags=["stats"], responses=ERRORS)
DEFAULT_RANGE = timedelta(days=7)


ShiftName = Annotated[
    str | None,
    Query(max_length=32, description="Only the hours of this shift of the calendar (GET /stats/shifts)."),
]


class RatePoint(BaseModel):
    bucket_start: datetime
    shift: str | None = Field(default=None, description="The shift's name (shift buckets).")
    line_id: str
    station_id: str | None
    total: int
    fail: int
    uncertain: int
    defect_rate: float


class ClassPoint(BaseModel):
    bucket_start: datetime
    shift: str | None = Field(default=None, description="The shift's name (shift buckets).")
    line_id: str
    class_name: str
    count: int


class ClassCount(BaseModel):
    class_name: str
    count: int


class FirstSeen(BaseModel):
    line_id: str
    class_name: str
    first_seen: datetime
    last_seen: datetime
    count: int


class Effort(BaseModel):
    reviews: int
    timed: int = Field(description="Reviews with a measured time (review_ms).")
    mean_s: float | None = Field(description="Mean seconds per timed review.")
    median_s: float | None
    p90_s: float | None = Field(description="90th percentile (nearest rank) of the seconds per timed review.")
    total_s: float = Field(description="Seconds spent on the timed reviews.")
    confirm: int
    reject: int
    correct: int


class ProductEffort(Effort):
    product: str = Field(description="'' when the frames had no product.")


class ReviewerEffort(Effort):
    reviewer: str


class OfferedEffort(Effort):
    offered_for: str = Field(
        description="The queue's largest priority component when reviewed: uncertain, rare_class, "
        "disagreement, sampled; not_queued for labels of frames the queue did not hold."
    )


class ClassReviews(BaseModel):
    product: str
    class_name: str
    reviews: int = Field(description="Reviews where the model or the reviewer named this class.")
    confirmed: int = Field(description="The model's class kept by the reviewer.")
    removed: int = Field(description="The model had the class, the label has not.")
    added: int = Field(description="The label has the class, the model had not.")
    corrected: int = Field(description="removed + added.")


class ReviewStatsOut(Effort):
    since: datetime
    until: datetime
    by_product: list[ProductEffort]
    by_class: list[ClassReviews]
    by_reviewer: list[ReviewerEffort]
    by_offered_for: list[OfferedEffort]


class ShiftOut(BaseModel):
    name: str
    start: str = Field(description="HH:MM, the site's local time.")
    end: str


class CalendarOut(BaseModel):
    timezone: str = Field(description="IANA name; shift and day buckets are in this zone.")
    shifts: list[ShiftOut]


class RateOut(BaseModel):
    bucket: Bucket
    since: datetime
    until: datetime
    points: list[RatePoint]


class ClassesOut(BaseModel):
    bucket: Bucket
    since: datetime
    until: datetime
    points: list[ClassPoint]


def window(
    ctx: AppContext, since: datetime | None, until: datetime | None, bucket: Bucket | None
) -> stats.Window:
    since, until = check_range(since, until, DEFAULT_RANGE)
    until = until or datetime.now(UTC)
    assert since is not None
    if bucket is not None:
        width = {Bucket.HOUR: 3600, Bucket.SHIFT: ctx.settings.shift_calendar().shortest_s, Bucket.DAY: 82800}
        n = (until - since).total_seconds() / width[bucket]
        if n > MAX_BUCKETS:
            raise InvalidRequestError(
                f"{n:.0f} {bucket.value} buckets requested (max {MAX_BUCKETS}); use a wider bucket"
            )
    return stats.Window(since=since, until=until)


@router.get(
    "/defect-rate", response_model=RateOut, summary="Defect rate per bucket", **needs(Role.SUPERVISOR)
)
def defect_rate(
    ctx: Annotated[AppContext, Depends(get_ctx)],
    bucket: Bucket = Bucket.HOUR,
    since: Since = None,
    until: Until = None,
    line_id: IdText | None = None,
    station_id: IdText | None = None,
    by_station: bool = False,
    shift: ShiftName = None,
    product: IdText | None = None,
) -> RateOut:
    """FAIL / all (non-shadow) inspections per line (and station with ``by_station``). Default: last 7
    days."""
    w = window(ctx, since, until, bucket)
    w = stats.Window(w.since, w.until, line_id, station_id, shift, product)
    with ctx.db.session() as s:
        rows = stats.defect_rate(s, w, bucket, by_station, calendar=ctx.settings.shift_calendar())
    return RateOut(bucket=bucket, since=w.since, until=w.until, points=[RatePoint(**r) for r in rows])


@router.get(
    "/classes", response_model=ClassesOut, summary="Defect counts per class", **needs(Role.SUPERVISOR)
)
def classes(
    ctx: Annotated[AppContext, Depends(get_ctx)],
    bucket: Bucket = Bucket.DAY,
    since: Since = None,
    until: Until = None,
    line_id: IdText | None = None,
    station_id: IdText | None = None,
    shift: ShiftName = None,
    product: IdText | None = None,
    class_name: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> ClassesOut:
    """Detections of FAIL/UNCERTAIN inspections per bucket, line and class."""
    w = window(ctx, since, until, bucket)
    w = stats.Window(w.since, w.until, line_id, station_id, shift, product, class_name)
    with ctx.db.session() as s:
        rows = stats.class_counts(s, w, bucket, calendar=ctx.settings.shift_calendar())
    return ClassesOut(bucket=bucket, since=w.since, until=w.until, points=[ClassPoint(**r) for r in rows])


@router.get(
    "/top-classes", response_model=list[ClassCount], summary="Most frequent classes", **needs(Role.SUPERVISOR)
)
def top_classes(
    ctx: Annotated[AppContext, Depends(get_ctx)],
    since: Since = None,
    until: Until = None,
    line_id: IdText | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    station_id: IdText | None = None,
    shift: ShiftName = None,
    product: IdText | None = None,
) -> list[ClassCount]:
    w = window(ctx, since, until, None)
    w = stats.Window(w.since, w.until, line_id, station_id, shift, product)
    with ctx.db.session() as s:
        rows = stats.top_classes(s, w, limit, ctx.settings.shift_calendar())
    return [ClassCount(**r) for r in rows]


@router.get("/shifts", response_model=CalendarOut, summary="The site's shifts", **needs(Role.SUPERVISOR))
def shifts(ctx: Annotated[AppContext, Depends(get_ctx)]) -> CalendarOut:
    """The shift calendar the shift buckets and the ``shift`` filters use (``FACTORYLOOP_API_SHIFTS``,
    ``FACTORYLOOP_API_TIMEZONE``)."""
    cal = ctx.settings.shift_calendar()
    return CalendarOut(
        timezone=cal.timezone, shifts=[ShiftOut(name=s.name, start=s.start, end=s.end) for s in cal.shifts]
    )


@router.get(
    "/first-seen",
    response_model=list[FirstSeen],
    summary="First sighting per class and line",
    **needs(Role.SUPERVISOR),
)
def first_seen(
    ctx: Annotated[AppContext, Depends(get_ctx)], line_id: IdText | None = None
) -> list[FirstSeen]:
    """When each defect class first appeared on each line (a new class on a line is worth a look)."""
    with ctx.db.session() as s:
        rows = stats.first_seen(s, line_id)
    return [FirstSeen(**r) for r in rows]


@router.get(
    "/reviews", response_model=ReviewStatsOut, summary="Reviews and review time", **needs(Role.SUPERVISOR)
)
def reviews(
    ctx: Annotated[AppContext, Depends(get_ctx)],
    since: Since = None,
    until: Until = None,
    line_id: IdText | None = None,
    product: IdText | None = None,
) -> ReviewStatsOut:
    """Human effort in a range (default: last 7 days): reviews, seconds per review (mean, median, total; the
    review page and API clients send ``review_ms``), actions, per product, reviewer and what the queue offered
    the frame for, and per class how often the model's class was confirmed or corrected."""
    w = window(ctx, since, until, None)
    with ctx.db.session() as s:
        out = review_stats(s, w.since, w.until, line_id, product)
    return ReviewStatsOut(since=w.since, until=w.until, **out)
