"""Inspections (outcomes): filtered, cursor-paginated lists and details with detections and review history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from api.context import AppContext, get_ctx
from api.routes.common import (
    ERRORS,
    DetectionOut,
    EventId,
    IdText,
    Limit,
    Out,
    Page,
    Since,
    Until,
    detection_dict,
    detection_out,
)
from api.security import Role, needs
from api.services.inspections import (
    InspectionFilter,
    detections_of,
    frame_stored,
    get_inspection,
    list_inspections,
    reviews_of,
)
from api.services.timerange import check_range

router = APIRouter(tags=["inspections"], responses=ERRORS)


class VerdictParam(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    UNCERTAIN = "UNCERTAIN"


class Order(StrEnum):
    DESC = "desc"
    ASC = "asc"


class InspectionOut(Out):
    id: int
    event_id: str
    ts: datetime
    captured_at: datetime
    line_id: str
    station_id: str
    agent_id: str
    frame_id: str
    item_id: str | None
    product: str | None
    verdict: str
    model_name: str
    model_version: str
    frame_sha256: str
    frame_sent: bool
    sample_reason: str | None
    shadow: bool
    n_detections: int
    detections: list[DetectionOut] = []


class InspectionPage(Page):
    items: list[InspectionOut]


class ReviewOut(Out):
    event_id: str
    ts: datetime
    action: str
    reviewer: str
    source: str
    comment: str | None
    detections: list[DetectionOut]
    review_ms: int | None = None  # the time the reviewer took, when measured (review page, API clients)


class LatencyOut(Out):
    capture_to_decision_ms: float
    inference_ms: float
    capture_to_reject_ms: float | None


class InspectionDetail(InspectionOut):
    model_sha256: str | None
    thresholds: dict[str, float]
    latency: LatencyOut
    frame_width: int
    frame_height: int
    frame_stored: bool
    reviews: list[ReviewOut]


def review_out(r: Any) -> ReviewOut:
    """From a ReviewRow or a row dict (``label_row``)."""
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    return ReviewOut(
        event_id=get("event_id"),
        ts=get("ts"),
        action=get("action"),
        reviewer=get("reviewer"),
        source=get("source"),
        comment=get("comment"),
        detections=[detection_out(d) for d in get("detections") or []],
        review_ms=get("review_ms"),
    )


@router.get(
    "/inspections", response_model=InspectionPage, summary="List inspections", **needs(Role.SUPERVISOR)
)
def list_(
    ctx: Annotated[AppContext, Depends(get_ctx)],
    line_id: IdText | None = None,
    station_id: IdText | None = None,
    product: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    class_name: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    verdict: VerdictParam | None = None,
    model_version: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    since: Since = None,
    until: Until = None,
    include_shadow: bool = False,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="Opaque cursor from next_cursor")] = None,
    order: Order = Order.DESC,
) -> Response:
    """Newest first by default (``order=asc`` for oldest first); filters combine with AND.

    ``class_name`` keeps inspections with at least one detection of that class. Page with ``cursor``.
    """
    since, until = check_range(since, until)
    flt = InspectionFilter(
        line_id=line_id,
        station_id=station_id,
        product=product,
        class_name=class_name,
        verdict=verdict.value if verdict else None,
        model_version=model_version,
        since=since,
        until=until,
        include_shadow=include_shadow,
    )
    with ctx.db.session() as s:
        rows, next_cursor = list_inspections(s, flt, limit, cursor, newest_first=order is Order.DESC)
        dets = detections_of(s, [r.event_id for r in rows if r.n_detections])
    items = [
        {**r._mapping, "detections": [detection_dict(d) for d in dets.get(r.event_id, ())]} for r in rows
    ]
    page = InspectionPage.model_validate({"items": items, "next_cursor": next_cursor})
    # Validated once here; returning the JSON skips FastAPI's second validation of the response model.
    return Response(page.model_dump_json(), media_type="application/json")


@router.get(
    "/inspections/{event_id}",
    response_model=InspectionDetail,
    summary="One inspection",
    **needs(Role.SUPERVISOR),
)
def detail(event_id: EventId, ctx: Annotated[AppContext, Depends(get_ctx)]) -> InspectionDetail:
    """Detections, verdict, thresholds, model version, frame hash (and whether it is stored), review
    history."""
    with ctx.db.session() as s:
        r = get_inspection(s, event_id)
        dets = detections_of(s, [r.event_id])[r.event_id]
        reviews = reviews_of(s, r.event_id)
        stored = frame_stored(s, r.frame_sha256)
    return InspectionDetail(
        **InspectionOut.model_validate(r).model_dump(exclude={"detections"}),
        detections=[detection_out(d) for d in dets],
        model_sha256=r.model_sha256,
        thresholds=r.thresholds,
        latency=LatencyOut(
            capture_to_decision_ms=r.decision_ms,
            inference_ms=r.inference_ms,
            capture_to_reject_ms=r.reject_ms,
        ),
        frame_width=r.frame_width,
        frame_height=r.frame_height,
        frame_stored=stored,
        reviews=[review_out(x) for x in reviews],
    )
