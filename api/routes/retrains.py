"""Retrain jobs: an engineer queues one; a trainer worker (engineer token) claims it and reports progress.

Worker protocol: ``GET /retrains?status=queued`` (oldest first) -> ``POST /retrains/{id}/claim`` (409 if
another
worker won) -> ``PATCH /retrains/{id}`` with ``progress``/``message`` while running and finally
``status: succeeded|failed`` with a ``result`` (e.g. ``{"model_version": "7", "gate": "promoted"}``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, update

from api.context import AppContext, get_ctx
from api.db.models import RetrainJobRow
from api.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from api.routes.common import ERRORS, IdText
from api.security import Principal, Role, needs, require

router = APIRouter(prefix="/retrains", tags=["retrains"], responses=ERRORS)
JobId = Annotated[int, Path(ge=1, le=2**62)]
MAX_JSON = 16_000


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}


def _small(value: dict[str, Any]) -> dict[str, Any]:
    import json

    if len(json.dumps(value, default=str)) > MAX_JSON:
        raise ValueError(f"object larger than {MAX_JSON} bytes of JSON")
    return value


class RetrainIn(BaseModel):
    product: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    line_id: str | None = Field(default=None, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")
    reason: str | None = Field(default=None, max_length=2000)
    params: dict[str, Any] = Field(default_factory=dict, description="Trainer options (epochs, ...)")

    _check = field_validator("params")(_small)


class ClaimIn(BaseModel):
    worker: str | None = Field(
        default=None, max_length=128, description="Worker id; default: the token name."
    )


class JobPatch(BaseModel):
    status: JobStatus | None = None
    progress: float | None = Field(default=None, ge=0, le=1)
    message: str | None = Field(default=None, max_length=4000)
    result: dict[str, Any] | None = None

    _check = field_validator("result")(lambda v: None if v is None else _small(v))


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    product: str
    line_id: str | None
    reason: str | None
    params: dict[str, Any]
    status: JobStatus
    requested_by: str
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    finished_at: datetime | None
    progress: float | None
    message: str | None
    result: dict[str, Any]


def _job(ctx: AppContext, job_id: int) -> JobOut:
    with ctx.db.session() as s:
        row = s.get(RetrainJobRow, job_id)
        if row is None:
            raise NotFoundError(f"no retrain job {job_id}")
        return JobOut.model_validate(row)


@router.post("", response_model=JobOut, status_code=201, summary="Queue a retrain", **needs(Role.ENGINEER))
def create(
    body: RetrainIn,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.ENGINEER))],
) -> JobOut:
    now = datetime.now(UTC)
    row = RetrainJobRow(
        product=body.product,
        line_id=body.line_id,
        reason=body.reason,
        params=body.params,
        status=JobStatus.QUEUED.value,
        requested_by=principal.name,
        created_at=now,
        updated_at=now,
        result={},
    )
    with ctx.db.session() as s:
        s.add(row)
        s.flush()
        return JobOut.model_validate(row)


@router.get("", response_model=list[JobOut], summary="List retrain jobs", **needs(Role.SUPERVISOR))
def list_jobs(
    ctx: Annotated[AppContext, Depends(get_ctx)],
    status: JobStatus | None = None,
    product: IdText | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobOut]:
    """Queued jobs oldest first (the order workers take them); otherwise newest first."""
    stmt = select(RetrainJobRow)
    if status is not None:
        stmt = stmt.where(RetrainJobRow.status == status.value)
    if product is not None:
        stmt = stmt.where(RetrainJobRow.product == product)
    order = RetrainJobRow.id.asc() if status is JobStatus.QUEUED else RetrainJobRow.id.desc()
    with ctx.db.session() as s:
        return [JobOut.model_validate(r) for r in s.scalars(stmt.order_by(order).limit(limit))]


@router.get("/{job_id}", response_model=JobOut, summary="A retrain job", **needs(Role.SUPERVISOR))
def get_job(job_id: JobId, ctx: Annotated[AppContext, Depends(get_ctx)]) -> JobOut:
    return _job(ctx, job_id)


@router.post("/{job_id}/claim", response_model=JobOut, summary="Claim a queued job", **needs(Role.ENGINEER))
def claim(
    job_id: JobId,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.ENGINEER))],
    body: ClaimIn | None = None,
) -> JobOut:
    """Atomically move a queued job to running for this worker; 409 if it is not queued any more."""
    now = datetime.now(UTC)
    worker = (body.worker if body and body.worker else None) or principal.name
    with ctx.db.session() as s:
        result = s.execute(
            update(RetrainJobRow)
            .where(RetrainJobRow.id == job_id, RetrainJobRow.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.RUNNING.value, claimed_by=worker, claimed_at=now, updated_at=now)
        )
        claimed = result.rowcount == 1  # type: ignore[attr-defined]
    if not claimed:
        job = _job(ctx, job_id)
        raise ConflictError(f"job {job_id} is {job.status.value}, not queued (claimed by {job.claimed_by})")
    return _job(ctx, job_id)


@router.patch("/{job_id}", response_model=JobOut, summary="Report on a job", **needs(Role.ENGINEER))
def patch(
    job_id: JobId,
    body: JobPatch,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.ENGINEER))],
) -> JobOut:
    """Progress, message, final status and result. Only ``cancelled`` is allowed on a queued job;
    finished jobs
    cannot change (409)."""
    now = datetime.now(UTC)
    with ctx.db.session() as s:
        row = s.get(RetrainJobRow, job_id, with_for_update=True)
        if row is None:
            raise NotFoundError(f"no retrain job {job_id}")
        current = JobStatus(row.status)
        if current in TERMINAL:
            raise ConflictError(f"job {job_id} already {current.value}")
        if current is JobStatus.QUEUED and body.status not in (None, JobStatus.CANCELLED):
            raise ConflictError(f"job {job_id} is queued: claim it first (POST /retrains/{job_id}/claim)")
        if current is JobStatus.RUNNING and body.status is JobStatus.QUEUED:
            raise InvalidRequestError("a running job cannot go back to queued")
        foreign = row.claimed_by not in (principal.name, None) and principal.role is not Role.ADMIN
        if current is JobStatus.RUNNING and foreign and body.status is not JobStatus.CANCELLED:
            raise ForbiddenError(
                f"job {job_id} is claimed by {row.claimed_by}; only it (or an admin) reports"
            )
        if body.status is not None:
            row.status = body.status.value
            if body.status in TERMINAL:
                row.finished_at = now
        if body.progress is not None:
            row.progress = body.progress
        if body.message is not None:
            row.message = body.message
        if body.result is not None:
            row.result = body.result
        row.updated_at = now
        s.flush()
        return JobOut.model_validate(row)
