"""Deployments: promote a registered model version (publish a ``Deployment`` keyed by its target), roll
back to
the previously deployed version, and list the history seen on the deployments topic."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from api.context import AppContext, get_ctx
from api.db.models import DeploymentRow
from api.db.upsert import insert_ignore, table
from api.errors import ConflictError, InvalidRequestError
from api.metrics import DEPLOYMENTS_PUBLISHED
from api.routes.common import ERRORS, IdText
from api.security import Principal, Role, needs, require
from api.sink.rows import deployment_row
from factoryloop.schemas import FLEET_KEY, Deployment, Strategy
from factoryloop.schemas.deployments import (
    EDGE_FILE_TAG,
    EDGE_PRECISION_TAG,
    EDGE_SHA256_TAG,
    PRODUCT_TAG,
)
from factoryloop.signing import sign
from factoryloop.topics import TopicRole

router = APIRouter(prefix="/deployments", tags=["deployments"], responses=ERRORS)

SHA_TAGS = ("sha256", "onnx_sha256", "artifact_sha256", "model_sha256")
TARGET = r"^[A-Za-z0-9_.:\-]{1,128}$"


class PromoteIn(BaseModel):
    model_name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    model_version: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    target: str = Field(default=FLEET_KEY, pattern=TARGET, description="A line id, or 'fleet'.")
    strategy: Strategy = Strategy.FULL
    canary_agents: list[str] = Field(default_factory=list, max_length=100)
    shadow_sample_rate: float = Field(default=0.0, ge=0, le=1)
    reason: str | None = Field(default=None, max_length=1000)
    artifact_uri: str | None = Field(
        default=None, max_length=2048, description="Default: the version's source."
    )
    sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="Default: version tag sha256."
    )
    class_names: list[str] | None = Field(
        default=None, max_length=1000, description="Default: tag class_names."
    )
    imgsz: int | None = Field(default=None, gt=0, le=4096, description="Default: version tag imgsz.")
    product: str | None = Field(
        default=None,
        pattern=TARGET,
        description="Default: version tag product (agents of another product refuse the deployment).",
    )


class RollbackIn(BaseModel):
    target: str = Field(default=FLEET_KEY, pattern=TARGET)
    reason: str | None = Field(default=None, max_length=1000)


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


def _class_names(raw: str) -> list[str]:
    raw = raw.strip()
    if raw.startswith("["):
        return [str(x) for x in json.loads(raw)]
    return [x.strip() for x in raw.split(",") if x.strip()]


def _edge_artifact(source: str, tags: dict[str, str]) -> tuple[str, str | None, str]:
    """(artifact URI, its sha256 when a tag says, precision) of a version: training's versions are folders."""
    if tags.get(EDGE_FILE_TAG):
        precision = "int8" if tags.get(EDGE_PRECISION_TAG) == "int8" else "fp32"
        return f"{source.rstrip('/')}/{tags[EDGE_FILE_TAG]}", tags.get(EDGE_SHA256_TAG), precision
    if tags.get("onnx_sha256"):  # registered by training before the edge_* tags: the folder's fp32 file
        return f"{source.rstrip('/')}/model.onnx", tags["onnx_sha256"], "fp32"
    return source, None, "fp32"


def history(ctx: AppContext, target: str | None, limit: int) -> list[DeploymentRow]:
    stmt = select(DeploymentRow)
    if target is not None:
        stmt = stmt.where(DeploymentRow.target == target)
    with ctx.db.session() as s:
        return list(s.scalars(stmt.order_by(DeploymentRow.ts.desc(), DeploymentRow.id.desc()).limit(limit)))


def _publish(ctx: AppContext, fields: dict[str, Any]) -> Deployment:
    fields = {**fields, "signature": None}  # a rollback's copied signature no longer matches: re-sign
    try:
        dep = sign(Deployment(**fields), ctx.settings.signing_key)
    except ValidationError as exc:
        raise InvalidRequestError(f"invalid deployment: {exc.errors()[0]['msg']}") from exc
    ctx.publish(TopicRole.DEPLOYMENTS, dep, key=dep.compaction_key)
    DEPLOYMENTS_PUBLISHED.inc()
    with ctx.db.engine.begin() as conn:
        insert_ignore(conn, table(DeploymentRow), [deployment_row(dep)])
    return dep


@router.get("", response_model=list[DeploymentOut], summary="Deployment history", **needs(Role.SUPERVISOR))
def list_deployments(
    ctx: Annotated[AppContext, Depends(get_ctx)],
    target: IdText | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DeploymentOut]:
    return [_out(r.payload) for r in history(ctx, target, limit)]


@router.post(
    "",
    response_model=DeploymentOut,
    status_code=201,
    summary="Promote a model version",
    **needs(Role.ENGINEER),
)
def promote(
    body: PromoteIn,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.ENGINEER))],
) -> DeploymentOut:
    """Looks the version up in MLflow (404 if unknown) for its artifact, sha256 tag, class names, imgsz and
    product (each overridable in the body), then publishes the Deployment keyed by ``target``. A version
    registered by training ships the file its ``edge_file`` tag names in its artifact folder (the INT8 twin
    when training's check passed it). A version without a ``product`` tag deploys with none (any agent)."""
    version = ctx.registry.get_version(body.model_name, body.model_version)
    tags = version["tags"]
    artifact, edge_sha, precision = _edge_artifact(version["source"] or "", tags)
    if body.artifact_uri:
        artifact, edge_sha, precision = body.artifact_uri, None, "fp32"
    sha = body.sha256 or edge_sha or next((tags[k] for k in SHA_TAGS if tags.get(k)), None)
    classes = body.class_names or (_class_names(tags["class_names"]) if tags.get("class_names") else None)
    imgsz = body.imgsz or (int(tags["imgsz"]) if str(tags.get("imgsz", "")).isdigit() else None)
    missing = [n for n, v in (("sha256", sha), ("class_names", classes), ("imgsz", imgsz)) if not v]
    if missing:
        raise InvalidRequestError(
            f"model {body.model_name} v{body.model_version} lacks {missing} (no such version tags); pass them"
        )
    current = history(ctx, body.target, 1)
    dep = _publish(
        ctx,
        {
            "deployment_id": uuid.uuid4().hex,
            "target": body.target,
            "model_name": body.model_name,
            "model_version": body.model_version,
            "artifact_uri": artifact,
            "sha256": sha,
            "precision": precision,
            "product": body.product or tags.get(PRODUCT_TAG) or None,
            "class_names": tuple(classes or ()),
            "imgsz": imgsz,
            "strategy": body.strategy,
            "canary_agents": tuple(body.canary_agents),
            "shadow_sample_rate": body.shadow_sample_rate,
            "previous_version": current[0].model_version if current else None,
            "created_by": principal.name,
            "reason": body.reason,
        },
    )
    return _out(dep.model_dump(mode="json"))


@router.post(
    "/rollback",
    response_model=DeploymentOut,
    status_code=201,
    summary="Roll back a target",
    **needs(Role.ENGINEER),
)
def rollback(
    body: RollbackIn,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.ENGINEER))],
) -> DeploymentOut:
    """Re-publish the most recent earlier deployment of ``target`` whose version differs from the current one
    (shadow deployments skipped), with strategy ``rollback``. 409 if there is nothing to roll back to."""
    rows = history(ctx, body.target, 500)
    if not rows:
        raise ConflictError(f"nothing deployed to {body.target!r}")
    current = rows[0]
    previous = next(
        (
            r
            for r in rows[1:]
            if r.model_version != current.model_version and r.strategy != Strategy.SHADOW.value
        ),
        None,
    )
    if previous is None:
        raise ConflictError(
            f"no earlier version of {body.target!r} to roll back to (current {current.model_version})"
        )
    fields = {
        k: v for k, v in previous.payload.items() if k not in ("event_id", "ts", "kind", "schema_version")
    }
    fields.update(
        deployment_id=uuid.uuid4().hex,
        strategy=Strategy.ROLLBACK,
        canary_agents=(),
        shadow_sample_rate=0.0,
        previous_version=current.model_version,
        created_by=principal.name,
        reason=body.reason or f"rollback from {current.model_version}",
    )
    return _out(_publish(ctx, fields).model_dump(mode="json"))
