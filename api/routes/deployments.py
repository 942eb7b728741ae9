"""Deployments: the history seen on the deployments topic, and two older ways to ask for a rollout.

The API no longer publishes Deployments: the rollout controller (``factoryloop train watch``) owns them.
``POST /deployments`` (promote a registered version) and ``POST /deployments/rollback`` are thin wrappers of
``POST /rollouts`` (:mod:`api.services.rollouts`): each publishes a RolloutRequest and answers 202."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from api.context import AppContext, get_ctx
from api.db.models import DeploymentRow
from api.routes.common import ERRORS, ErrorOut, IdText
from api.security import Principal, Role, needs, require
from api.services.rollouts import (
    PromoteIn,
    RequestOut,
    RollbackIn,
    from_promotion,
    from_rollback,
    request_rollout,
)

router = APIRouter(prefix="/deployments", tags=["deployments"], responses=ERRORS)
REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "A request the controller would refuse (the message says why)"},
    503: {"model": ErrorOut, "description": "Kafka (or MLflow) did not answer"},
}


class DeploymentOut(BaseModel):
    event_id: str
    deployment_id: str
    ts: datetime
    target: str
    model_name: str
    model_version: str
    strategy: str
    product: str | None = None
    created_by: str
    previous_version: str | None
    reason: str | None


def _out(payload: dict[str, Any]) -> DeploymentOut:
    return DeploymentOut(**{k: payload.get(k) for k in DeploymentOut.model_fields})


def history(ctx: AppContext, target: str | None, limit: int) -> list[DeploymentRow]:
    stmt = select(DeploymentRow)
    if target is not None:
        stmt = stmt.where(DeploymentRow.target == target)
    with ctx.db.session() as s:
        return list(s.scalars(stmt.order_by(DeploymentRow.ts.desc(), DeploymentRow.id.desc()).limit(limit)))


@router.get("", response_model=list[DeploymentOut], summary="Deployment history", **needs(Role.SUPERVISOR))
def list_deployments(
    ctx: Annotated[AppContext, Depends(get_ctx)],
    target: IdText | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DeploymentOut]:
    """What the rollout controller published on the deployments topic (as the sink stored it), newest
    first."""
    return [_out(r.payload) for r in history(ctx, target, limit)]


@router.post(
    "",
    response_model=RequestOut,
    status_code=202,
    summary="Ask to deploy a model version",
    responses={**REFUSED, 404: {"model": ErrorOut, "description": "No such model version in MLflow"}},
    **needs(Role.ENGINEER),
)
def promote(
    body: PromoteIn,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.ENGINEER))],
) -> RequestOut:
    """Looks the version up in MLflow (404 if unknown; 503 if MLflow is down) and asks the rollout controller
    to deploy it to the product of its ``product`` tag (400 without one): ``strategy`` full goes straight to
    every agent of the product, canary through the stages of the product's rollout policy (which chooses the
    agents), shadow first runs it beside the champion on ``canary_agents`` (default: the policy's shadow
    agents, else one) at ``shadow_sample_rate`` (default 1.0), judged frame by frame, then the policy's
    stages. Same as ``POST /rollouts`` with action deploy (and ``shadow``); the old ``artifact_uri``,
    ``sha256``, ``class_names``, ``imgsz`` and ``product`` fields are refused (400), and so are
    ``canary_agents`` and ``shadow_sample_rate`` for another strategy: the controller decides them. 202:
    follow the request at ``GET /rollouts/requests/{request_id}``."""
    version = ctx.registry.get_version(body.model_name, body.model_version)
    return request_rollout(ctx, from_promotion(body, version["tags"]), principal.name)


@router.post(
    "/rollback",
    response_model=RequestOut,
    status_code=202,
    summary="Ask to roll a product back",
    responses=REFUSED,
    **needs(Role.ENGINEER),
)
def rollback(
    body: RollbackIn,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.ENGINEER))],
) -> RequestOut:
    """Asks the rollout controller to stop any canary of ``product`` and go back to ``to_version`` (default:
    the previous champion). Same as ``POST /rollouts`` with action rollback."""
    return request_rollout(ctx, from_rollback(body), principal.name)
