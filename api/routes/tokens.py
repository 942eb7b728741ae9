"""API tokens (admin): create (shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.context import AppContext, get_ctx
from api.db.models import TokenRow
from api.errors import ConflictError
from api.routes.common import ERRORS
from api.security import NAME_PATTERN, Principal, Role, create_token, needs, require, revoke_token

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=ERRORS)


class TokenIn(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="Who uses it; becomes the reviewer name of labels.")
    role: Role


class TokenCreated(BaseModel):
    name: str
    role: Role
    token: str = Field(description="Shown only once: store it now.")


class TokenOut(BaseModel):
    name: str
    role: Role
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None


@router.post("", response_model=TokenCreated, status_code=201, summary="Create a token", **needs(Role.ADMIN))
def create(
    body: TokenIn,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.ADMIN))],
) -> TokenCreated:
    token = create_token(
        ctx.db, body.name, body.role, ctx.settings.token_pepper.get_secret_value(), principal.name
    )
    return TokenCreated(name=body.name, role=body.role, token=token)


@router.get("", response_model=list[TokenOut], summary="List tokens", **needs(Role.ADMIN))
def list_tokens(ctx: Annotated[AppContext, Depends(get_ctx)]) -> list[TokenOut]:
    with ctx.db.session() as s:
        rows = list(s.scalars(select(TokenRow).order_by(TokenRow.name)))
    return [
        TokenOut(
            name=r.name,
            role=Role(r.role),
            created_at=r.created_at,
            created_by=r.created_by,
            revoked_at=r.revoked_at,
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
