"""Dashboard pages. Login stores the token in an HttpOnly, SameSite=Strict cookie; pages render
server-side from the same queries as the API (the line overview and defects in ``lines.py``, the fleet in
``fleet_page.py``, products in ``products_page.py``); the review forms post back here (same-origin only) and
produce Labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api.context import AppContext, get_ctx
from api.errors import ApiError, TokenExpiredError
from api.routes.frames import get_frame
from api.routes.review import ReviewIn, submit_review
from api.security import COOKIE_NAME, Principal, authenticate, principal_from_cookie
from api.web.formats import install as install_filters
from api.web.review import page_url, queue_order, relabelled, review_ms, review_view
from factoryloop.schemas import ReviewAction

HERE = Path(__file__).resolve().parent


def _kafka_status(request: Request) -> dict[str, Any]:
    """Every page's banner: Kafka's state (``base.html`` says live data is paused while it is down)."""
    ctx = getattr(request.app.state, "ctx", None)
    return {"kafka": None if ctx is None else ctx.link.status()}


templates = Jinja2Templates(directory=str(HERE / "templates"), context_processors=[_kafka_status])
install_filters(templates.env)  # ms, fps, bytes, ago, pct, when, ... (api/web/formats.py)
router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(HERE / "static"))


def _user(request: Request) -> Principal | None:
    return principal_from_cookie(request)


def _page(request: Request, name: str, user: Principal, status_code: int = 200, **data: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"user": user, "page": name.removesuffix(".html"), **data}, status_code=status_code
    )


def _redirect_login() -> RedirectResponse:
    return RedirectResponse("/ui/login", status_code=303)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"user": None, "page": "login", "error": None})


@router.post("/ui/login", response_model=None)
def login(
    request: Request,
    token: Annotated[str, Form(max_length=256)],
    ctx: Annotated[AppContext, Depends(get_ctx)],
) -> Response:
    error = "Invalid or revoked token."
    try:
        principal = authenticate(ctx.db, token.strip(), ctx.settings.token_pepper.get_secret_value())
    except TokenExpiredError as exc:
        principal, error = None, exc.message[:1].upper() + exc.message[1:]
    if principal is None or not _same_origin(request):
        return templates.TemplateResponse(
            request, "login.html", {"user": None, "page": "login", "error": error}, status_code=401
        )
    response = RedirectResponse("/ui/", status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=ctx.settings.secure_cookies,
        max_age=12 * 3600,
        path="/",
    )
    return response


@router.post("/ui/logout")
def logout() -> RedirectResponse:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/ui/review", response_class=HTMLResponse, response_model=None)
def review_page(
    request: Request,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    line_id: str | None = None,
    order: str | None = None,
) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    line = line_id if line_id and len(line_id) <= 128 else None
    return _page(request, "review.html", user, **review_view(ctx, line, queue_order(order)), message=None)


@router.post("/ui/review/{event_id}", response_model=None)
async def review_submit(
    request: Request, event_id: str, ctx: Annotated[AppContext, Depends(get_ctx)]
) -> Response:
    """Confirm / reject, or correct: relabel the model's boxes (class_<i> fields; empty drops the box) and
    add drawn ones. A refused review (e.g. a class the product does not have) shows the queue again with
    the reason, and nothing is published."""
    user = _user(request)
    if user is None:
        return _redirect_login()
    if not _same_origin(request):
        return Response("cross-origin form refused", status_code=403)
    form = await request.form()
    order, line = queue_order(form.get("order")), str(form.get("line_id") or "")[:128] or None
    try:
        action = ReviewAction(str(form.get("action", "")))
        comment = str(form.get("comment") or "")[:1000] or None
        detections = relabelled(ctx, event_id, form) if action is ReviewAction.CORRECT else []
        body = ReviewIn(action=action, comment=comment, detections=detections, review_ms=review_ms(form))
        await run_in_threadpool(submit_review, ctx, user, event_id, body)
    except ApiError as exc:
        return await _review_refused(request, ctx, user, event_id, exc.message, exc.status)
    except ValueError as exc:
        return await _review_refused(request, ctx, user, event_id, f"invalid review: {exc}", 422)
    return RedirectResponse(page_url(order, line), status_code=303)


async def _review_refused(
    request: Request, ctx: AppContext, user: Principal, event_id: str, reason: str, status: int
) -> Response:
    data = await run_in_threadpool(review_view, ctx, None)
    message = f"Review of {event_id[:64]} not saved: {reason}"
    return _page(request, "review.html", user, status_code=status, **data, message=message)


@router.get("/ui/models", response_class=HTMLResponse, response_model=None)
def models(request: Request, ctx: Annotated[AppContext, Depends(get_ctx)]) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    error, items = None, []
    try:
        for m in ctx.registry.list_models():
            items.append({**m, "versions": ctx.registry.versions(m["name"])})
    except ApiError as exc:
        error = exc.message
    return _page(request, "models.html", user, models=items, error=error)


@router.get("/ui/frames/{sha256}", response_model=None)
def frame(
    request: Request, sha256: str, ctx: Annotated[AppContext, Depends(get_ctx)], overlay: bool = True
) -> Response:
    if _user(request) is None:
        return Response(status_code=401)
    try:
        return get_frame(sha256, ctx, overlay)
    except ApiError as exc:
        return Response(exc.message, status_code=exc.status)
