"""The rollout panel of the dashboard (``/ui/rollouts``): per product the champion, challenger and canary, the
rollout in flight with its stage, agents and evidence, and the history with reasons. Engineers ask for a
deploy or a rollback from it: the form posts back here (same-origin, the cookie's token) and goes through the
same service as ``POST /api/v1/rollouts``; the controller (``factoryloop train watch``) acts on it."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from api.context import AppContext, get_ctx
from api.db.models import RolloutRow
from api.errors import ApiError
from api.security import Principal, Role
from api.services.products import list_products
from api.services.rollout_reads import list_rollouts, product_rollout
from api.services.rollouts import RolloutIn, ShadowIn, request_rollout
from api.web.pages import _page, _redirect_login, _same_origin, _user
from factoryloop.schemas import RolloutAction
from factoryloop.schemas.deployments import PRODUCT_TAG

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
WAITING = "it stays 'requested' until the rollout controller (factoryloop train watch) takes it"


def known_products(ctx: AppContext) -> tuple[list[str], str | None]:
    """Products of the catalog, of the rollouts table and of the registered models' ``product`` tags; the
    MLflow error, if any (the others are still listed)."""
    names: set[str] = set()
    error = None
    try:
        names.update(p.name for p in list_products(ctx.products))
    except ApiError as exc:
        error = exc.message
    with ctx.db.session() as s:
        names.update(s.scalars(select(RolloutRow.product).distinct()))
    try:
        names.update(m["tags"][PRODUCT_TAG] for m in ctx.registry.list_models() if m["tags"].get(PRODUCT_TAG))
    except ApiError as exc:
        error = exc.message
    return sorted(names), error


def _view(
    ctx: AppContext, user: Principal, product: str | None, message: str | None, refused: bool = False
) -> dict[str, Any]:
    products, error = known_products(ctx)
    product = product if product and len(product) <= 128 else (products[0] if products else None)
    panel, history = None, []
    if product is not None:
        try:
            panel = product_rollout(ctx, product)
            history = panel.history
        except ApiError as exc:  # MLflow down or an unknown product: the stored history still shows
            error = exc.message
            history = list_rollouts(ctx, product, 20)
        if history and product not in products:  # its first event was stored after the products were read
            products = sorted([*products, product])
    return {
        "products": products,
        "product": product,
        "panel": panel,
        "history": history,
        "error": error,
        "message": message,
        "refused": refused,
        "can_deploy": user.role.allows(Role.ENGINEER),
    }


@router.get("/ui/rollouts", response_class=HTMLResponse, response_model=None)
def rollouts_page(
    request: Request,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    product: str | None = None,
    requested: str | None = None,
) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    message = f"Request {requested[:64]} sent: {WAITING}." if requested else None
    return _page(request, "rollouts.html", user, **_view(ctx, user, product, message))


@router.post("/ui/rollouts", response_model=None)
def rollouts_submit(
    request: Request,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    product: Annotated[str, Form(max_length=128)],
    action: Annotated[str, Form(max_length=16)],
    version: Annotated[str, Form(max_length=64)] = "",
    staged: Annotated[str, Form(max_length=8)] = "",
    shadow: Annotated[str, Form(max_length=8)] = "",
    shadow_agents: Annotated[str, Form(max_length=4000)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Deploy ``version`` (empty: the champion; ``staged`` checked: the canary stages; ``shadow`` checked: a
    shadow stage first, on ``shadow_agents``, comma separated, empty: the policy's) or roll back to it (empty:
    the previous champion). A refused request shows the panel again with the reason."""
    user = _user(request)
    if user is None:
        return _redirect_login()
    if not _same_origin(request):
        return Response("cross-origin form refused", status_code=403)
    status, failure = 403, f"asking for a rollout needs role 'engineer'; {user.name} is {user.role.value}"
    if user.role.allows(Role.ENGINEER):
        try:
            deploy = action == RolloutAction.DEPLOY.value
            body = RolloutIn(
                product=product,
                action=RolloutAction(action),
                model_version=(version.strip() or None) if deploy else None,
                to_version=None if deploy else (version.strip() or None),
                staged=bool(staged) if deploy else True,
                shadow=ShadowIn(agents=[a.strip() for a in shadow_agents.split(",") if a.strip()])
                if deploy and shadow
                else None,
                reason=reason.strip() or None,
            )
            out = request_rollout(ctx, body, user.name)
            query = urlencode({"product": out.product, "requested": out.request_id})
            return RedirectResponse(f"/ui/rollouts?{query}", status_code=303)
        except ApiError as exc:
            status, failure = exc.status, exc.message
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            status, failure = 422, f"invalid request ({problems})"
        except ValueError as exc:  # an action that is neither deploy nor rollback
            status, failure = 422, f"invalid request ({exc})"
    message = f"Rollout of {product[:128]} not requested: {failure}"
    view = _view(ctx, user, product, message, refused=True)
    return _page(request, "rollouts.html", user, status_code=status, **view)
