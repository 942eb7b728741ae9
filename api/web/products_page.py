"""The product pages of the dashboard: ``/ui/products`` (every known product) and ``/ui/products/{name}``: its
class map, champion, challenger and canary (version, when, the gate's figures from the MLflow registry), the
rollout in flight with the controller's latest figures, recent rollout history (the rollout panel has the
rest), the agents serving it and its defect rate per class over the last hours."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import HTMLResponse

from api.context import AppContext, get_ctx
from api.errors import ApiError, NotFoundError
from api.services import stats
from api.services.products import class_map
from api.services.rollout_reads import ProductRolloutOut, list_rollouts, product_rollout
from api.services.timerange import Bucket
from api.web.breakdowns import class_rows
from api.web.fleet_page import camera_config, fleet_rows
from api.web.lines import HOURS
from api.web.pages import _page, _redirect_login, _user
from api.web.rollouts import known_products

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
ROLES = ("champion", "challenger", "canary")
SCORES = ("mAP50-95", "mAP50", "precision", "recall")


@dataclass(frozen=True, slots=True)
class VersionCard:
    """A version in one of the product's roles, as the registry and the rollout history describe it."""

    role: str
    version: str
    registered: datetime | None
    since: datetime | None  # when it became champion / its rollout started (rollout history)
    scores: dict[str, float]  # the gate's figures of this version (tags gate.challenger.*)
    recalls: dict[str, float]  # per class
    gate: str | None  # promote / refuse, with the reason
    int8: str | None


def _float(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def version_card(role: str, v: dict[str, Any], since: datetime | None) -> VersionCard:
    tags: dict[str, str] = v.get("tags") or {}
    own = "gate.challenger."
    scores = {k: f for k in SCORES if (f := _float(tags.get(own + k))) is not None}
    recalls = {
        k.removeprefix(own + "recall."): f
        for k, t in sorted(tags.items())
        if k.startswith(own + "recall.") and (f := _float(t)) is not None
    }
    gate = tags.get("gate.decision")
    created = v.get("created_ms")
    return VersionCard(
        role=role,
        version=str(v["version"]),
        registered=datetime.fromtimestamp(created / 1000, UTC) if created else None,
        since=since,
        scores=scores,
        recalls=recalls,
        gate=f"{gate}: {tags.get('gate.reason', '')}".strip(": ") if gate else None,
        int8=tags.get("int8.decision"),
    )


def _since(panel: ProductRolloutOut, role: str, version: str) -> datetime | None:
    """When ``version`` took ``role``: its latest ``full`` event (champion), else its first event."""
    history = [h for h in panel.history if h.model_version == version and h.kind == "rollout_event"]
    if role == "champion":
        full = [h.ts for h in history if h.state == "full"]
        return max(full) if full else None
    return min((h.ts for h in history), default=None)


def cards(ctx: AppContext, panel: ProductRolloutOut) -> list[VersionCard]:
    out = []
    for role in ROLES:
        version = getattr(panel, role)
        if version is None or panel.model_name is None:
            continue
        v = ctx.registry.get_version(panel.model_name, version)
        out.append(version_card(role, v, _since(panel, role, version)))
    return out


def class_rates(ctx: AppContext, product: str, hours: int, active: tuple[str, ...]) -> dict[str, Any]:
    """Boxes per class of the product's FAIL/UNCERTAIN inspections in the last ``hours``, per 100 of its
    inspections; every active class of the class map is listed (0 when not seen)."""
    until = datetime.now(UTC)
    w = stats.Window(until - timedelta(hours=hours), until, product=product)
    cal = ctx.settings.shift_calendar()
    with ctx.db.session() as s:
        points = stats.defect_rate(s, w, Bucket.DAY, False, calendar=cal)
        top = stats.top_classes(s, w, 100, cal)
    seen = {c["class_name"] for c in top}
    top += [{"class_name": name, "count": 0} for name in active if name not in seen]
    inspected = sum(p["total"] for p in points)
    fail = sum(p["fail"] for p in points)
    return {"inspected": inspected, "fail": fail, "classes": class_rows(top, inspected)}


@router.get("/ui/products", response_class=HTMLResponse, response_model=None)
def products_index(request: Request, ctx: Annotated[AppContext, Depends(get_ctx)]) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    names, error = known_products(ctx)
    return _page(request, "products.html", user, names=names, error=error)


@router.get("/ui/products/{name}", response_class=HTMLResponse, response_model=None)
def product_page(
    request: Request,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    name: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")],
    hours: int = 24,
) -> Response:
    user = _user(request)
    if user is None:
        return _redirect_login()
    hours = min(HOURS, key=lambda h: abs(h - hours))
    cmap = class_map(ctx.products, name)
    error, panel, versions = None, None, []
    try:
        panel = product_rollout(ctx, name)
        versions = cards(ctx, panel)
    except NotFoundError as exc:
        if panel is None:
            return _page(request, "product.html", user, status_code=404, product=name, missing=exc.message)
        error = exc.message  # a version the aliases name is gone from the registry
    except ApiError as exc:  # MLflow down: the stored history and the stats still show
        error = exc.message
    history = panel.history if panel else list_rollouts(ctx, name, 20)
    agents = [a for a in fleet_rows(ctx, camera_config(request)) if a.product == name]
    return _page(
        request,
        "product.html",
        user,
        product=name,
        missing=None,
        cmap=cmap,
        panel=panel,
        versions=versions,
        history=[h for h in history if not getattr(h, "progress", False)][:8],
        agents=agents,
        rates=class_rates(ctx, name, hours, cmap.active_class_names if cmap else ()),
        hours=hours,
        hours_choices=HOURS,
        error=error,
    )
