"""Bearer tokens and roles: supervisor (read + review) < engineer (+ retrain, deploy, rollback) < admin
(+ tokens).

Tokens are random strings shown once; only their HMAC-SHA256 (keyed by the pepper) is stored. A token may
expire (``expires_at``): an expired token is refused with 401 ``token_expired`` naming the time. Every route
declares the least role it needs with :func:`needs`, which also records it in OpenAPI as ``x-required-role``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from api.db.engine import Database
from api.db.models import TokenRow
from api.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    TokenExpiredError,
    UnauthorizedError,
)

TOKEN_PREFIX = "flt_"
COOKIE_NAME = "fl_token"
NAME_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"


class Role(StrEnum):
    SUPERVISOR = "supervisor"
    ENGINEER = "engineer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.SUPERVISOR: 1, Role.ENGINEER: 2, Role.ADMIN: 3}


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role


def hash_token(token: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def expiry(
    expires_in_days: int | None = None, expires_at: datetime | None = None, now: datetime | None = None
) -> datetime | None:
    """When a new token expires: ``expires_in_days`` from now, or ``expires_at`` (a naive time is UTC);
    None: never. Both, or a time not in the future, is an :class:`InvalidRequestError`."""
    now = now or datetime.now(UTC)
    if expires_in_days is not None and expires_at is not None:
        raise InvalidRequestError("give expires_in_days or expires_at, not both")
    if expires_in_days is not None:
        if expires_in_days < 1:
            raise InvalidRequestError(f"expires_in_days must be at least 1, got {expires_in_days}")
        return now + timedelta(days=expires_in_days)
    if expires_at is None:
        return None
    at = expires_at.replace(tzinfo=UTC) if expires_at.tzinfo is None else expires_at.astimezone(UTC)
    if at <= now:
        raise InvalidRequestError(f"expires_at {at:%Y-%m-%d %H:%M:%S} UTC is not in the future")
    return at


def create_token(
    db: Database,
    name: str,
    role: Role,
    pepper: str,
    created_by: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Store a new token for ``name`` (valid until ``expires_at``, if given) and return it (the only time
    it is visible)."""
    token = new_token()
    row = TokenRow(
        name=name,
        role=role.value,
        token_hash=hash_token(token, pepper),
        created_at=datetime.now(UTC),
        created_by=created_by,
        expires_at=expires_at,
    )
    try:
        with db.session() as s:
            s.add(row)
    except IntegrityError as exc:
        raise ConflictError(f"a token named {name!r} exists; revoke it first or pick another name") from exc
    return token


def revoke_token(db: Database, name: str) -> None:
    with db.session() as s:
        result = s.execute(
            update(TokenRow)
            .where(TokenRow.name == name, TokenRow.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFoundError(f"no active token named {name!r}")


def authenticate(db: Database, token: str, pepper: str) -> Principal | None:
    """The principal of a valid token; None for an unknown or revoked one. Raises
    :class:`TokenExpiredError` (401 ``token_expired``) for an expired one."""
    if not token or len(token) > 256:
        return None
    digest = hash_token(token, pepper)
    with db.session() as s:
        row = s.execute(
            select(TokenRow.name, TokenRow.role, TokenRow.expires_at).where(
                TokenRow.token_hash == digest, TokenRow.revoked_at.is_(None)
            )
        ).first()
    if row is None:
        return None
    if row.expires_at is not None and row.expires_at <= datetime.now(UTC):
        raise TokenExpiredError(
            f"token expired on {row.expires_at:%Y-%m-%d %H:%M:%S} UTC (token '{row.name}'); ask an admin for "
            "a new one ('factoryloop api create-token' or POST /api/v1/tokens)"
        )
    return Principal(name=row.name, role=Role(row.role))


_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer flt_...`")


def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    ctx = request.app.state.ctx
    token = credentials.credentials if credentials is not None else None
    if token is None:
        raise UnauthorizedError(
            "missing bearer token: send 'Authorization: Bearer <token>' (create one with "
            "'factoryloop api create-token --role supervisor --name <you>')"
        )
    principal = authenticate(ctx.db, token, ctx.settings.token_pepper.get_secret_value())
    if principal is None:
        raise UnauthorizedError("invalid or revoked token")
    return principal


@cache
def require(role: Role) -> Any:
    """A dependency returning the caller's :class:`Principal` if its role is at least ``role``."""

    def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        principal = _principal(request, credentials)
        if not principal.role.allows(role):
            raise ForbiddenError(
                f"this route needs role '{role.value}' or higher; token '{principal.name}' has role "
                f"'{principal.role.value}'"
            )
        request.state.principal = principal
        return principal

    return dependency


def needs(role: Role) -> dict[str, Any]:
    """Route keyword arguments: the role check plus its OpenAPI annotation (``x-required-role``).

    A route that needs the caller also declares ``principal: Principal = Depends(require(role))``;
    FastAPI runs
    the (cached, identical) dependency once.
    """
    return {"dependencies": [Depends(require(role))], "openapi_extra": {"x-required-role": role.value}}


def principal_from_cookie(request: Request) -> Principal | None:
    """For dashboard pages: the principal of the HttpOnly cookie token, if valid."""
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return None
    ctx = request.app.state.ctx
    try:
        return authenticate(ctx.db, token, ctx.settings.token_pepper.get_secret_value())
    except TokenExpiredError:
        return None  # back to the login page
