"""API tokens (admin): create (shown once, optionally expiring), list (with expiry), revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.context import AppContext, get_ctx
from api.db.models import TokenRow
from api.errors import ConflictError
from api.routes.common import ERRORS
from api.security import (
    NAME_PATTERN,
    Principal,
    Role,
    create_token,
    expiry,
    needs,
    require,
    revoke_token,
)

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=ERRORS)


class TokenIn(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="Who uses it; becomes the reviewer name of labels.")
    role: Role
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Valid for this many days from now (default: no expiry)."
    )
    expires_at: datetime | None = Field(
        default=None, description="Valid until this time (UTC if no offset); not with expires_in_days."
    )


class TokenCreated(BaseModel):
    name: str
    role: Role
    token: str = Field(description="Shown only once: store it now.")
    expires_at: datetime | None = Field(description="When it stops working (null: never).")


class TokenOut(BaseModel):
    name: str
    role: Role
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    expires_at: datetime | None = Field(description="null: never expires")
    expired: bool = Field(description="Past its expiry time (refused with 401 token_expired).")


@router.post("", response_model=TokenCreated, status_code=201, summary="Create a token", **needs(Role.ADMIN))
def create(
    body: TokenIn,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.ADMIN))],
) -> TokenCreated:
    """An expiring token: ``expires_in_days`` or ``expires_at`` (422 if both, or a past time)."""
    expires_at = expiry(body.expires_in_days, body.expires_at)
    pepper = ctx.settings.token_pepper.get_secret_value()
    token = create_token(ctx.db, body.name, body.role, pepper, principal.name, expires_at)
    return TokenCreated(name=body.name, role=body.role, token=token, expires_at=expires_at)


@router.get("", response_model=list[TokenOut], summary="List tokens", **needs(Role.ADMIN))
def list_tokens(ctx: Annotated[AppContext, Depends(get_ctx)]) -> list[TokenOut]:
    with ctx.db.session() as s:
        rows = list(s.scalars(select(TokenRow).order_by(TokenRow.name)))
    now = datetime.now(UTC)
    return [
        TokenOut(
            name=r.name,
            role=Role(r.role),
            created_at=r.created_at,
            created_by=r.created_by,
            revoked_at=r.revoked_at,
            expires_at=r.expires_at,
            expired=r.expires_at is not None and r.expires_at <= now,
        )
        for r in rows
    ]


@router.delete("/{name}", status_code=204, summary="Revoke a token", **needs(Role.ADMIN))
def revoke(
    name: Annotated[str, Path(pattern=NAME_PATTERN)],
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.ADMIN))],
) -> Response:
    if name == principal.name:
        raise ConflictError("refusing to revoke the token making this request")
    revoke_token(ctx.db, name)
    return Response(status_code=204)
