"""Expiring API tokens on both backends: created with an expiry, listed with it, refused once expired (API
and dashboard)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from api.db.models import TokenRow
from api.security import COOKIE_NAME, Role


def expire(api: Any, name: str, at: datetime) -> None:
    with api.client.app.state.ctx.db.session() as s:
        s.execute(update(TokenRow).where(TokenRow.name == name).values(expires_at=at))


@pytest.mark.parametrize(
    ("extra", "status", "expires_in"),
    [
        ({}, 201, None),
        ({"expires_in_days": 30}, 201, timedelta(days=30)),
        ({"expires_at": "2099-01-02T03:04:05"}, 201, "2099-01-02T03:04:05+00:00"),
        ({"expires_at": "2099-01-02T05:04:05+02:00"}, 201, "2099-01-02T03:04:05+00:00"),
        ({"expires_in_days": 0}, 422, None),
        ({"expires_in_days": 3651}, 422, None),
        ({"expires_at": "2020-01-01T00:00:00Z"}, 422, None),
        ({"expires_in_days": 1, "expires_at": "2099-01-01T00:00:00Z"}, 422, None),
    ],
)
def test_create_with_expiry(api_factory, extra: dict, status: int, expires_in: Any) -> None:
    api = api_factory(None)
    resp = api.post("/api/v1/tokens", role=Role.ADMIN, json={"name": "carol", "role": "supervisor", **extra})
    assert resp.status_code == status, resp.text
    if status != 201:
        assert api.get("/api/v1/tokens", role=Role.ADMIN).json()[-1]["name"] != "carol"
        return
    body = resp.json()
    if expires_in is None:
        assert body["expires_at"] is None
    elif isinstance(expires_in, str):
        assert datetime.fromisoformat(body["expires_at"]) == datetime.fromisoformat(expires_in)
    else:
        delta = datetime.fromisoformat(body["expires_at"]) - (datetime.now(UTC) + expires_in)
        assert abs(delta) < timedelta(minutes=5)
    listed = {t["name"]: t for t in api.get("/api/v1/tokens", role=Role.ADMIN).json()}
    assert listed["carol"]["expires_at"] == body["expires_at"] and listed["carol"]["expired"] is False
    ok = api.client.get("/api/v1/inspections", headers={"Authorization": f"Bearer {body['token']}"})
    assert ok.status_code == 200


def test_expired_token_is_refused_with_its_time(api_factory) -> None:
    api = api_factory(None)
    created = api.post(
        "/api/v1/tokens", role=Role.ADMIN, json={"name": "dave", "role": "supervisor", "expires_in_days": 1}
    ).json()
    token = created["token"]
    expire(api, "dave", datetime(2026, 3, 1, 8, 0, tzinfo=UTC))

    resp = api.client.get("/api/v1/inspections", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"
    error = resp.json()["error"]
    assert error["code"] == "token_expired"
    assert error["message"].startswith("token expired on 2026-03-01 08:00:00 UTC")
    listed = {t["name"]: t for t in api.get("/api/v1/tokens", role=Role.ADMIN).json()}
    assert listed["dave"]["expired"] is True and listed["supervisor-1"]["expired"] is False

    login = api.client.post("/ui/login", data={"token": token})
    assert login.status_code == 401 and "Token expired on 2026-03-01 08:00:00 UTC" in login.text
    api.client.cookies.set(COOKIE_NAME, token)  # a cookie set before it expired
    page = api.client.get("/ui/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/ui/login"
