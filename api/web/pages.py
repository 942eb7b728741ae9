"""Dashboard pages. Login stores the token in an HttpOnly, SameSite=Strict cookie; pages render
server-side from
the same queries as the API; the review forms post back here (same-origin only) and produce Labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api.context import AppContext, get_ctx
from api.errors import ApiError
from api.routes.deployments import history
from api.routes.fleet import list_agents
from api.routes.frames import get_frame
from api.routes.review import BoxIn, DetectionIn, ReviewIn, submit_review
from api.security import COOKIE_NAME, Principal, authenticate, principal_from_cookie
from api.services import stats
from api.services.inspections import InspectionFilter, detections_of, list_inspections, review_queue
from api.services.timerange import Bucket
from api.web.chart import defect_chart
from factoryloop.schemas import ReviewAction

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(HERE / "static"))


def _user(request: Request) -> Principal | None:
    return principal_from_cookie(request)


def _page(request: Request, name: str, user: Principal, **data: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"user": user, "page": name.removesuffix(".html"), **data}
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
    principal = authenticate(ctx.db, token.strip(), ctx.settings.token_pepper.get_secret_value())
    if principal is None or not _same_origin(request):
        return templates.TemplateResponse(
            request,
            "login.html",
            {"user": None, "page": "login", "error": "Invalid or revoked token."},
            status_code=401,
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


@router.get("/ui/", response_class=HTMLResponse, response_model=None)
def overview(request: Request, ctx: Annotated[AppContext, Depends(get_ctx)], hours: int = 24) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    hours = min(max(hours, 1), 24 * 31)
    until = datetime.now(UTC)
    w = stats.Window(until - timedelta(hours=hours), until)
    cfg = ctx.settings
    with ctx.db.session() as s:
        points = stats.defect_rate(s, w, Bucket.HOUR, False, cfg.shift_hours, cfg.shift_start_hour)
        top = stats.top_classes(s, w, 8)
        first = stats.first_seen(s, None)
    totals: dict[str, dict[str, int]] = {}
    for p in points:
        t = totals.setdefault(p["line_id"], {"total": 0, "fail": 0, "uncertain": 0})
        for k in t:
            t[k] += p[k]
    return _page(
        request,
        "overview.html",
        user,
        chart=defect_chart(points),
        totals=totals,
        top=top,
        first=first,
        hours=hours,
    )


@router.get("/ui/defects", response_class=HTMLResponse, response_model=None)
def defects(
    request: Request, ctx: Annotated[AppContext, Depends(get_ctx)], line_id: str | None = None
) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    line = line_id if line_id and len(line_id) <= 128 else None
    with ctx.db.session() as s:
        rows, _ = list_inspections(s, InspectionFilter(line_id=line, verdict="FAIL"), 48, None)
        dets = detections_of(s, [r.event_id for r in rows])
    return _page(request, "defects.html", user, rows=rows, dets=dets, line_id=line)


@router.get("/ui/review", response_class=HTMLResponse, response_model=None)
def review_page(
    request: Request, ctx: Annotated[AppContext, Depends(get_ctx)], line_id: str | None = None
) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    line = line_id if line_id and len(line_id) <= 128 else None
    with ctx.db.session() as s:
        rows = review_queue(s, line, 30)
        dets = detections_of(s, [r.event_id for r in rows])
        classes = sorted(set(stats.known_classes(s)) | {d.class_name for ds in dets.values() for d in ds})
    return _page(
        request, "review.html", user, rows=rows, dets=dets, line_id=line, classes=classes, message=None
    )


@router.post("/ui/review/{event_id}", response_model=None)
async def review_submit(
    request: Request, event_id: str, ctx: Annotated[AppContext, Depends(get_ctx)]
) -> Response:
    """Confirm / reject, or correct: relabel the model's boxes (class_<i> fields; empty drops the box)."""
    user = _user(request)
    if user is None:
        return _redirect_login()
    if not _same_origin(request):
        return Response("cross-origin form refused", status_code=403)
    form = await request.form()
    try:
        action = ReviewAction(str(form.get("action", "")))
        body = ReviewIn(action=action, comment=str(form.get("comment") or "")[:1000] or None)
        if action is ReviewAction.CORRECT:
            body = ReviewIn(action=action, comment=body.comment, detections=_relabelled(ctx, event_id, form))
        await run_in_threadpool(submit_review, ctx, user, event_id, body)
    except ApiError as exc:
        return Response(exc.message, status_code=exc.status)
    except ValueError as exc:
        return Response(f"invalid review: {exc}", status_code=422)
    return RedirectResponse("/ui/review", status_code=303)


MAX_NEW_BOXES = 200


def _relabelled(ctx: AppContext, event_id: str, form: Any) -> list[DetectionIn]:
    """The model's boxes relabelled (``class_<i>``; empty drops it) plus boxes drawn on the page
    (``new_box_<k>`` = "x1,y1,x2,y2" in frame pixels, ``new_class_<k>``; an empty class drops it)."""
    with ctx.db.session() as s:
        dets = detections_of(s, [event_id])[event_id]
    ids = {d.class_name: d.class_id for d in dets}
    out = []
    for i, d in enumerate(dets):
        name = str(form.get(f"class_{i}", d.class_name)).strip()[:64]
        if name:
            box = BoxIn(x1=d.x1, y1=d.y1, x2=d.x2, y2=d.y2)
            out.append(DetectionIn(class_id=ids.get(name, 0), class_name=name, box=box))
    for k in range(MAX_NEW_BOXES):
        raw = form.get(f"new_box_{k}")
        if raw is None:
            continue
        name = str(form.get(f"new_class_{k}", "")).strip()[:64]
        if not name:
            continue
        coords = [float(v) for v in str(raw).split(",")]
        if len(coords) != 4:
            raise ValueError(f"new_box_{k} needs 4 numbers x1,y1,x2,y2, got {raw!r}")
        box = BoxIn(x1=coords[0], y1=coords[1], x2=coords[2], y2=coords[3])
        out.append(DetectionIn(class_id=ids.get(name, 0), class_name=name, box=box))
    return out


@router.get("/ui/fleet", response_class=HTMLResponse, response_model=None)
def fleet(request: Request, ctx: Annotated[AppContext, Depends(get_ctx)]) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    return _page(request, "fleet.html", user, agents=list_agents(ctx), deployments=history(ctx, None, 20))


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
