"""The alerts page of the dashboard (``/ui/alerts``): open alerts first, then the recent resolved ones, each
with its evidence and deliveries; the acknowledge button posts back here (same-origin, the cookie's token)
and goes through the same service as ``POST /api/v1/alerts/{id}/ack``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.alerts.service import AlertFilter, acknowledge, list_alerts
from api.context import AppContext, get_ctx
from api.errors import ApiError
from api.security import Principal, Role
from api.web.pages import _page, _redirect_login, _same_origin, _user

router = APIRouter(include_in_schema=False)


def _render(
    request: Request, ctx: AppContext, user: Principal, message: str | None = None, status_code: int = 200
) -> HTMLResponse:
    open_ = list_alerts(ctx.db, AlertFilter(state="open", limit=200))
    recent = list_alerts(ctx.db, AlertFilter(state="resolved", limit=50))
    return _page(
        request,
        "alerts.html",
        user,
        status_code=status_code,
        open_alerts=open_,
        recent=recent,
        message=message,
        configured=getattr(request.app.state, "alerts", None) is not None,
        can_ack=user.role.allows(Role.SUPERVISOR),
    )


@router.get("/ui/alerts", response_class=HTMLResponse, response_model=None)
def alerts_page(
    request: Request, ctx: Annotated[AppContext, Depends(get_ctx)], acked: int | None = None
) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    return _render(request, ctx, user, f"Alert {acked} acknowledged." if acked else None)


@router.post("/ui/alerts/{alert_id}/ack", response_model=None)
def alerts_ack(
    request: Request,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    if not _same_origin(request):
        return Response("cross-origin form refused", status_code=403)
    try:
        acknowledge(ctx.db, alert_id, user.name)
    except ApiError as exc:
        return _render(request, ctx, user, f"Not acknowledged: {exc.message}", status_code=exc.status)
    return RedirectResponse(f"/ui/alerts?acked={alert_id}", status_code=303)
