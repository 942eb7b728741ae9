"""Models from the MLflow registry (one registered model per product; aliases champion/challenger; gate
decisions as version tags), with the agents that run each version according to their heartbeats."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel
from sqlalchemy import select

from api.context import AppContext, get_ctx
from api.db.models import AgentRow
from api.routes.common import ERRORS
from api.security import Role, needs

router = APIRouter(prefix="/models", tags=["models"], responses=ERRORS)

ModelName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
GATE_PREFIXES = ("gate",)


class ModelOut(BaseModel):
    name: str
    description: str
    aliases: dict[str, str]
    tags: dict[str, str]
    latest_versions: list[str]


class VersionOut(BaseModel):
    name: str
    version: str
    status: str
    run_id: str | None
    source: str | None
    aliases: list[str]
    tags: dict[str, str]
    gate: dict[str, str]
    agents: list[str]


class ModelDetail(ModelOut):
    versions: list[VersionOut]


def agents_by_version(ctx: AppContext, name: str | None = None) -> dict[tuple[str, str], list[str]]:
    stmt = select(AgentRow.model_name, AgentRow.model_version, AgentRow.agent_id).where(
        AgentRow.model_version.is_not(None)
    )
    if name is not None:
        stmt = stmt.where(AgentRow.model_name == name)
    out: dict[tuple[str, str], list[str]] = {}
    with ctx.db.session() as s:
        for r in s.execute(stmt.order_by(AgentRow.agent_id)):
            out.setdefault((r.model_name or "", r.model_version), []).append(r.agent_id)
    return out


def version_out(v: dict[str, Any], agents: dict[tuple[str, str], list[str]]) -> VersionOut:
    gate = {k: val for k, val in v["tags"].items() if k.lower().startswith(GATE_PREFIXES)}
    return VersionOut(**v, gate=gate, agents=agents.get((v["name"], v["version"]), []))


@router.get("", response_model=list[ModelOut], summary="Registered models", **needs(Role.SUPERVISOR))
def list_models(ctx: Annotated[AppContext, Depends(get_ctx)]) -> list[ModelOut]:
    """503 when MLflow is unreachable (``FACTORYLOOP_API_MLFLOW_TRACKING_URI``)."""
    return [ModelOut(**m) for m in ctx.registry.list_models()]


@router.get("/{name}", response_model=ModelDetail, summary="A model's versions", **needs(Role.SUPERVISOR))
def get_model(name: ModelName, ctx: Annotated[AppContext, Depends(get_ctx)]) -> ModelDetail:
    """Versions (newest first) with aliases, gate tags (tags starting with ``gate``) and the agents
    running them."""
    model = ctx.registry.get_model(name)
    versions = ctx.registry.versions(name)
    agents = agents_by_version(ctx, name)
    versions.sort(key=lambda v: int(v["version"]) if v["version"].isdigit() else 0, reverse=True)
    return ModelDetail(**model, versions=[version_out(v, agents) for v in versions])
