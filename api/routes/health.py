"""Liveness/readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from api.context import AppContext, get_ctx
from api.routes.common import ERRORS
from api.security import Role, needs

router = APIRouter(tags=["health"])
root_router = APIRouter(tags=["health"])  # mounted at / (Prometheus convention)


class HealthOut(BaseModel):
    status: str
    database: str
    sink: str


@router.get(
    "/health", response_model=HealthOut, summary="Health", openapi_extra={"x-required-role": "public"}
)
def health(request: Request, ctx: Annotated[AppContext, Depends(get_ctx)]) -> HealthOut:
    """Public (no token): for load balancers and probes. Reveals no data."""
    try:
        with ctx.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # any driver error means "not ready"
        database = "unavailable"
    sink = request.app.state.sink
    sink_state = (
        "disabled" if sink is None else ("running" if sink._thread and sink._thread.is_alive() else "stopped")
    )
    return HealthOut(status="ok" if database == "ok" else "degraded", database=database, sink=sink_state)


@root_router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **ERRORS},
    **needs(Role.SUPERVISOR),
)
def prometheus_metrics() -> Response:
    """Prometheus text format. Scrape with a bearer token (``authorization: {credentials: ...}``)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
