"""The FastAPI application factory: versioned routes under /api/v1, dashboard pages, error bodies, metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import metrics
from api.alerts.runner import AlertRunner
from api.context import AppContext
from api.db.migrate import upgrade
from api.errors import ApiError
from api.routes import API_PREFIX, routers
from api.routes.health import root_router as health_root
from api.settings import ApiSettings, get_settings
from api.sink.runner import Sink
from api.sink.supervisor import SinkSupervisor
from api.web.agent_page import router as agent_web_router
from api.web.alerts import router as alerts_web_router
from api.web.fleet_page import router as fleet_web_router
from api.web.lines import router as lines_web_router
from api.web.pages import router as web_router
from api.web.pages import static_files
from api.web.products_page import router as products_web_router
from api.web.review_routes import router as review_web_router
from api.web.rollouts import router as rollouts_web_router

logger = logging.getLogger(__name__)

DESCRIPTION = """Defect API of factoryloop: inspections sunk from Kafka, frames, statistics, reviews (labels),
fleet status, model registry, retrain jobs, deployments and rollout requests (the API asks, the trainer's
rollout controller acts).

Authenticate with `Authorization: Bearer <token>`. Roles: **supervisor** (read + review) < **engineer**
(+ retrain, deploy, rollback) < **admin** (+ tokens). Each operation states its least role in
`x-required-role`.
Errors have the body `{"error": {"code": "...", "message": "..."}}`.
"""


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers
    )


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _error(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()[:20]
        ]
        return _error(422, "invalid_request", "request validation failed", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        metrics.HTTP_SECONDS.labels(path).observe(time.perf_counter() - started)
        return response


def _sink(settings: ApiSettings, ctx: AppContext) -> SinkSupervisor:
    def make() -> Sink:
        return Sink(
            settings.kafka,
            ctx.db.engine,
            ctx.frames,
            group_id=settings.sink_group_id,
            batch_size=settings.sink_batch_size,
            poll_timeout_ms=settings.sink_poll_timeout_ms,
            bootstrap_timeout_s=settings.kafka_timeout_s,
        )

    return SinkSupervisor(make, ctx.link, retry_s=settings.kafka_probe_s)


def create_app(settings: ApiSettings | None = None, *, run_sink: bool | None = None) -> FastAPI:
    """Build the app. The sink runs in a background thread when ``run_sink`` (default: the setting).

    Raises :class:`~api.errors.InsecureSettingsError` for the placeholder token pepper outside the local
    stack. Kafka need not answer: the app serves the database, says on every page that live data is paused,
    answers 503 to what must publish, and resumes (sink and producer) once a broker answers.
    """
    settings = settings or get_settings()
    settings.check_site_secrets()
    ctx = AppContext.from_settings(settings)
    if settings.auto_migrate:
        upgrade(ctx.db.engine)
    sink_wanted = settings.run_sink if run_sink is None else run_sink
    alerts = AlertRunner.from_settings(ctx.db, settings)  # None without an alerts file; a bad one fails here

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.link.start()
        sink = _sink(settings, ctx) if sink_wanted else None
        if sink is not None:
            sink.start()
        app.state.sink = sink
        if alerts is not None:
            alerts.start()
        try:
            yield
        finally:
            if alerts is not None:
                alerts.stop()
            if sink is not None:
                sink.stop()
            ctx.link.stop()
            ctx.close()

    app = FastAPI(
        title="factoryloop defect API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # Swagger UI would load scripts from a CDN; the network is closed
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.sink = None
    app.state.alerts = alerts
    _install_handlers(app)
    for router in routers():
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health_root)
    app.include_router(web_router)
    app.include_router(lines_web_router)
    app.include_router(fleet_web_router)
    app.include_router(agent_web_router)
    app.include_router(products_web_router)
    app.include_router(rollouts_web_router)
    app.include_router(alerts_web_router)
    app.include_router(review_web_router)
    app.mount("/static", static_files(), name="static")
    return app
