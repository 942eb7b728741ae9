"""Liveness/readiness and Prometheus metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from api import metrics
from api.context import AppContext, get_ctx
from api.db.review_models import ReviewQueueRow
from api.routes.common import ERRORS
from api.security import Role, needs

router = APIRouter(tags=["health"])
root_router = APIRouter(tags=["health"])  # mounted at / (Prometheus convention)


class HealthOut(BaseModel):
    status: str = Field(description="ok while the database answers (ready for reads), else degraded")
    database: str = Field(description="ok or unavailable")
    sink: str = Field(description="disabled, waiting (for Kafka), running or stopped")
    kafka: str = Field(description="ok, unavailable or unknown (not checked yet)")
    kafka_since: datetime = Field(description="When Kafka's current state began (UTC)")
    live_data: str = Field(description="flowing, or paused while Kafka is unavailable")


@router.get(
    "/health", response_model=HealthOut, summary="Health", openapi_extra={"x-required-role": "public"}
)
def health(request: Request, ctx: Annotated[AppContext, Depends(get_ctx)]) -> HealthOut:
    """Public (no token): for load balancers and probes. Reveals no data.

    ``status`` is ``ok`` while the database answers, whether or not Kafka does: the API serves what the
    database holds without Kafka (``kafka: unavailable``, ``live_data: paused``; writes that publish
    answer 503) and resumes by itself once a broker answers."""
    try:
        with ctx.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # any driver error means "not ready"
        database = "unavailable"
    sink = request.app.state.sink
    kafka = ctx.link.status()
    return HealthOut(
        status="ok" if database == "ok" else "degraded",
        database=database,
        sink="disabled" if sink is None else sink.state,
        kafka={"up": "ok", "down": "unavailable"}.get(kafka.state, "unknown"),
        kafka_since=kafka.since,
        live_data="paused" if kafka.paused else "flowing",
    )


@root_router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **ERRORS},
    **needs(Role.SUPERVISOR),
)
def prometheus_metrics(ctx: Annotated[AppContext, Depends(get_ctx)]) -> Response:
    """Prometheus text format. Scrape with a bearer token (``authorization: {credentials: ...}``)."""
    _review_queue(ctx)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _review_queue(ctx: AppContext) -> None:
    """``factoryloop_api_review_queue_items`` per product, counted now (the database down: left as it was)."""
    query = select(func.coalesce(ReviewQueueRow.product, ""), func.count()).group_by(ReviewQueueRow.product)
    try:
        with ctx.db.engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError:
        return
    metrics.REVIEW_QUEUE.clear()
    for product, count in rows:
        metrics.REVIEW_QUEUE.labels(product or "unknown").set(count)
