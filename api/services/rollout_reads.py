"""What the rollouts table says: the requests and the controller's events, per product and per request, and a
product's rollout at a glance (champion and challenger from MLflow, the rollout in flight, the history)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import select

from api.context import AppContext
from api.db.models import RolloutRow
from api.errors import NotFoundError
from api.services.products import class_map
from api.services.shadow_figures import ShadowFiguresOut, shadow_figures
from factoryloop.schemas import RolloutState
from factoryloop.schemas.deployments import PRODUCT_TAG
from factoryloop.schemas.rollouts import TERMINAL as TERMINAL_STATES

logger = logging.getLogger(__name__)

REQUEST, EVENT = "rollout_request", "rollout_event"
HISTORY = 20
SCAN = 500  # rows of a product read to find the rollout in flight
TERMINAL = frozenset(s.value for s in TERMINAL_STATES)


class RolloutOut(BaseModel):
    """One message of the rollouts topic: a request (``kind`` rollout_request, ``state`` requested) or one of
    the controller's transitions (``kind`` rollout_event)."""

    event_id: str
    kind: str
    ts: datetime
    product: str
    request_id: str | None
    rollout_id: str | None
    action: str | None = Field(description="Requests: deploy or rollback.")
    model_name: str | None
    model_version: str | None
    previous_version: str | None
    to_version: str | None = Field(description="Rollback requests: the version to go back to.")
    staged: bool | None = Field(description="Deploy requests: through the canary stages or not.")
    target: str | None
    state: str
    stage: int | None
    stages: int | None
    agents: list[str]
    reason: str | None
    evidence: dict[str, float]
    actor: str = Field(description="Requests: who asked; events: the trainer or the user who caused it.")
    progress: bool = Field(
        default=False,
        description="Events: no transition but the stage's figures so far, or what the controller waits for.",
    )
    shadow: dict[str, Any] | None = Field(
        default=None, description="Deploy requests: the shadow stage asked for first (agents, sample_rate)."
    )


class RequestDetail(BaseModel):
    request_id: str
    status: str = Field(description="The state of the latest event carrying the request id, else requested.")
    request: RolloutOut | None = Field(description="Null when only the controller's events were seen.")
    events: list[RolloutOut] = Field(description="Oldest first.")


class InFlightOut(BaseModel):
    rollout_id: str
    request_id: str | None
    model_name: str
    model_version: str
    previous_version: str | None
    state: str
    stage: int | None
    stages: int | None
    agents: list[str]
    evidence: dict[str, float] = Field(description="The latest the controller reported for this rollout.")
    reason: str | None = Field(description="Why its current stage started.")
    note: str | None = Field(
        default=None,
        description="The controller's latest report since: figures so far, or what it waits for.",
    )
    shadow: ShadowFiguresOut | None = Field(
        default=None, description="A shadow stage's figures so far against the limits (state shadow only)."
    )
    since: datetime = Field(description="Its first event.")
    updated: datetime = Field(description="Its latest event.")


class ProductRolloutOut(BaseModel):
    product: str
    model_name: str | None = Field(description="The product's registered model, when one is found.")
    aliases: dict[str, str]
    champion: str | None
    challenger: str | None
    canary: str | None
    in_flight: InFlightOut | None = Field(description="The latest rollout not yet full/rolled back/halted.")
    pending: list[RolloutOut] = Field(description="Requests no controller event answered yet (newest first).")
    history: list[RolloutOut] = Field(
        description=f"The last {HISTORY} requests and transitions (no progress events), newest first."
    )


class _Row(Protocol):
    kind: str
    ts: datetime
    request_id: str | None
    rollout_id: str | None
    state: str


R = TypeVar("R", bound=_Row)


def rollout_out(row: RolloutRow) -> RolloutOut:
    p: dict[str, Any] = row.payload or {}
    return RolloutOut(
        event_id=row.event_id,
        kind=row.kind,
        ts=row.ts,
        product=row.product,
        request_id=row.request_id,
        rollout_id=row.rollout_id,
        action=row.action,
        model_name=row.model_name,
        model_version=row.model_version,
        previous_version=row.previous_version,
        to_version=p.get("to_version"),
        staged=p.get("staged"),
        target=p.get("target"),
        state=row.state,
        stage=row.stage,
        stages=row.stages,
        agents=list(row.agents or []),
        reason=row.reason,
        evidence=dict(row.evidence or {}),
        actor=row.actor,
        progress=bool(p.get("progress")),
        shadow=p.get("shadow"),
    )


def is_progress(row: RolloutRow) -> bool:
    """A progress event: the stage's figures so far or what the controller waits for, not a transition."""
    return bool((row.payload or {}).get("progress"))


def _newest_first(stmt: Any) -> Any:
    return stmt.order_by(RolloutRow.ts.desc(), RolloutRow.id.desc())


def list_rollouts(ctx: AppContext, product: str | None, limit: int) -> list[RolloutOut]:
    stmt = select(RolloutRow)
    if product is not None:
        stmt = stmt.where(RolloutRow.product == product)
    with ctx.db.session() as s:
        return [rollout_out(r) for r in s.scalars(_newest_first(stmt).limit(limit))]


def status_of(rows: Sequence[_Row]) -> str:
    """The state of the newest event among ``rows`` (oldest first), else ``requested``."""
    events = [r for r in rows if r.kind == EVENT]
    return events[-1].state if events else RolloutState.REQUESTED.value


def request_detail(ctx: AppContext, request_id: str) -> RequestDetail:
    stmt = select(RolloutRow).where(RolloutRow.request_id == request_id)
    with ctx.db.session() as s:
        rows = list(s.scalars(stmt.order_by(RolloutRow.ts, RolloutRow.id)))
    if not rows:
        raise NotFoundError(f"no rollout request {request_id!r} (ask with POST /rollouts)")
    request = next((r for r in rows if r.kind == REQUEST), None)
    return RequestDetail(
        request_id=request_id,
        status=status_of(rows),
        request=rollout_out(request) if request is not None else None,
        events=[rollout_out(r) for r in rows if r.kind == EVENT],
    )


def in_flight_id(rows: Sequence[_Row]) -> str | None:
    """The newest ``rollout_id`` (rows newest first) whose newest event is not terminal."""
    latest: dict[str, str] = {}
    for r in rows:
        if r.kind == EVENT and r.rollout_id and r.rollout_id not in latest:
            latest[r.rollout_id] = r.state
    return next((rid for rid, state in latest.items() if state not in TERMINAL), None)


def pending_requests(rows: Sequence[R]) -> list[R]:
    """Requests (rows newest first) that no event carries the id of."""
    answered = {r.request_id for r in rows if r.kind == EVENT and r.request_id}
    return [r for r in rows if r.kind == REQUEST and r.request_id not in answered]


def _in_flight(rows: list[RolloutRow]) -> InFlightOut | None:
    rid = in_flight_id(rows)
    if rid is None:
        return None
    mine = [r for r in rows if r.kind == EVENT and r.rollout_id == rid]
    now, first = mine[0], mine[-1]
    stage = next((r for r in mine if not is_progress(r)), now)  # the transition that started the stage
    evidence = next((r.evidence for r in mine if r.evidence), {})
    note = now.reason if is_progress(now) else None
    return InFlightOut(
        rollout_id=rid,
        request_id=next((r.request_id for r in mine if r.request_id), None),
        model_name=now.model_name or "",
        model_version=now.model_version or "",
        previous_version=now.previous_version,
        state=now.state,
        stage=now.stage,
        stages=now.stages,
        agents=list(now.agents or []),
        evidence=dict(evidence),
        reason=stage.reason,
        note=note,
        shadow=shadow_figures(dict(evidence)) if now.state == RolloutState.SHADOW.value else None,
        since=first.ts,
        updated=now.ts,
    )


def product_model(ctx: AppContext, product: str, rows: list[RolloutRow]) -> dict[str, Any] | None:
    """The product's registered model: the one its rollout events name, else the one tagged with the product
    (training tags each registered model ``product``), else ``factoryloop-<product>``. 503 if MLflow is
    unreachable."""
    named = next((r.model_name for r in rows if r.model_name), None)
    if named:
        try:
            return ctx.registry.get_model(named)
        except NotFoundError:
            logger.warning("model %s named by %s's rollout events is not in MLflow", named, product)
    models = ctx.registry.list_models()
    tagged = [m for m in models if m["tags"].get(PRODUCT_TAG) == product]
    default = [m for m in models if m["name"] == f"factoryloop-{product}"]
    found = tagged or default
    return found[0] if found else None


def product_rollout(ctx: AppContext, product: str) -> ProductRolloutOut:
    """404 when nothing knows the product: no catalog record, no rollout row, no registered model."""
    stmt = _newest_first(select(RolloutRow).where(RolloutRow.product == product)).limit(SCAN)
    with ctx.db.session() as s:
        rows = list(s.scalars(stmt))
    model = product_model(ctx, product, rows)
    if model is None and not rows and class_map(ctx.products, product) is None:
        raise NotFoundError(
            f"no product {product!r}: not in the product catalog, no registered model tagged "
            f"{PRODUCT_TAG}={product}, and no rollout requested for it"
        )
    aliases: dict[str, str] = dict(model["aliases"]) if model else {}
    return ProductRolloutOut(
        product=product,
        model_name=model["name"] if model else None,
        aliases=aliases,
        champion=aliases.get("champion"),
        challenger=aliases.get("challenger"),
        canary=aliases.get("canary"),
        in_flight=_in_flight(rows),
        pending=[rollout_out(r) for r in pending_requests(rows)[:HISTORY]],
        history=[rollout_out(r) for r in rows if not is_progress(r)][:HISTORY],
    )
