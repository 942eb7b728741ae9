"""Rollouts: ask the rollout controller to deploy or roll back (engineer), and read what it did (supervisor).

The API asks, the controller (``factoryloop train watch``) acts: ``POST /rollouts`` publishes a
RolloutRequest on the rollouts topic and answers 202; the controller's RolloutEvents come back through the
sink. Without a running trainer a request stays ``requested``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api.context import AppContext, get_ctx
from api.routes.common import ERRORS, ErrorOut, IdText
from api.security import Principal, Role, needs, require
from api.services.rollout_reads import (
    ProductRolloutOut,
    RequestDetail,
    RolloutOut,
    list_rollouts,
    product_rollout,
    request_detail,
)
from api.services.rollouts import RequestOut, RolloutIn, request_rollout

router = APIRouter(tags=["rollouts"], responses=ERRORS)

RequestId = Annotated[str, Path(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
ProductName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "Unknown"}}


@router.post(
    "/rollouts",
    response_model=RequestOut,
    status_code=202,
    summary="Ask the rollout controller to deploy or roll back",
    responses={
        400: {"model": ErrorOut, "description": "A field of the other action (the message says which)"},
        503: {"model": ErrorOut, "description": "Kafka did not acknowledge the request"},
    },
    **needs(Role.ENGINEER),
)
def create(
    body: RolloutIn,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.ENGINEER))],
) -> RequestOut:
    """``deploy``: ``model_version`` (default: the champion) through the product's canary stages
    (``staged``, default) or straight to every agent; with ``shadow`` ({agents, sample_rate}) a shadow
    stage on those agents first, judged frame by frame against the champion; ``rollback``: stop any canary
    and go back to ``to_version`` (default: the previous champion). Published keyed by product once Kafka
    acknowledged it; the controller may still refuse it (an unknown version, another product's model, an
    agent that is not live): follow it at ``GET /rollouts/requests/{request_id}``."""
    return request_rollout(ctx, body, principal.name)


@router.get(
    "/rollouts",
    response_model=list[RolloutOut],
    summary="Rollout requests and events",
    **needs(Role.SUPERVISOR),
)
def rollouts(
    ctx: Annotated[AppContext, Depends(get_ctx)],
    product: IdText | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[RolloutOut]:
    """Requests (state ``requested``) and the controller's events, newest first."""
    return list_rollouts(ctx, product, limit)


@router.get(
    "/rollouts/requests/{request_id}",
    response_model=RequestDetail,
    summary="A rollout request and what came of it",
    responses=NOT_FOUND,
    **needs(Role.SUPERVISOR),
)
def rollout_request(request_id: RequestId, ctx: Annotated[AppContext, Depends(get_ctx)]) -> RequestDetail:
    """The request and every event carrying its id (oldest first); ``status`` is the latest event's state,
    or ``requested`` while no controller answered (is ``factoryloop train watch`` running?)."""
    return request_detail(ctx, request_id)


@router.get(
    "/products/{name}/rollout",
    response_model=ProductRolloutOut,
    summary="A product's rollout at a glance",
    responses={**NOT_FOUND, 503: {"model": ErrorOut, "description": "MLflow is unreachable"}},
    **needs(Role.SUPERVISOR),
)
def product(name: ProductName, ctx: Annotated[AppContext, Depends(get_ctx)]) -> ProductRolloutOut:
    """Champion, challenger and canary (MLflow aliases of the product's registered model; 503 if MLflow is
    unreachable), the rollout in flight (the latest not full, rolled back, halted or refused) with its stage,
    agents and latest evidence, requests no controller answered yet, and the last 20 requests and events."""
    return product_rollout(ctx, name)
