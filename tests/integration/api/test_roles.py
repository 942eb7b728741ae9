"""Every route of the OpenAPI schema checks its role: 401 without/with a bad token, 403 below its role."""

from __future__ import annotations

import re

import pytest

from api.security import Role

RANK = {"supervisor": 1, "engineer": 2, "admin": 3}
SAMPLE = {"event_id": "e" * 32, "sha256": "a" * 64, "agent_id": "agent-1", "name": "widget", "job_id": "1"}


def operations(schema: dict) -> list[tuple[str, str, str]]:
    out = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            out.append((method.upper(), path, op.get("x-required-role", "MISSING")))
    return out


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "x"), path)


def test_every_operation_declares_a_role(api_factory) -> None:
    api = api_factory(None)
    ops = operations(api.client.app.openapi())
    assert len(ops) >= 20
    missing = [(m, p) for m, p, role in ops if role not in (*RANK, "public")]
    assert not missing, f"operations without x-required-role: {missing}"


def test_role_checks_on_every_route(api_factory) -> None:
    api = api_factory(None)
    checked = 0
    for method, path, needed in operations(api.client.app.openapi()):
        url = concrete(path)
        if needed == "public":
            assert api.client.request(method, url).status_code == 200
            continue
        anonymous = api.client.request(method, url)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        assert anonymous.json()["error"]["code"] == "unauthorized"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        bad = api.client.request(method, url, headers={"Authorization": "Bearer flt_nope"})
        assert bad.status_code == 401, (method, path)
        for role in Role:
            resp = api.client.request(method, url, headers=api.headers(role), json={})
            if RANK[role.value] < RANK[needed]:
                assert resp.status_code == 403, (method, path, role, resp.text)
                assert needed in resp.json()["error"]["message"]
            else:
                assert resp.status_code not in (401, 403), (method, path, role, resp.text)
        checked += 1
    assert checked >= 20


def test_revoked_token_is_refused(api_factory) -> None:
    api = api_factory(None)
    created = api.post("/api/v1/tokens", role=Role.ADMIN, json={"name": "temp", "role": "supervisor"})
    assert created.status_code == 201
    token = created.json()["token"]
    assert (
        api.client.get("/api/v1/inspections", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    assert api.client.delete("/api/v1/tokens/temp", headers=api.headers(Role.ADMIN)).status_code == 204
    assert (
        api.client.get("/api/v1/inspections", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    listed = api.get("/api/v1/tokens", role=Role.ADMIN).json()
    assert {t["name"] for t in listed} >= {"temp", "admin-1"} and all("token" not in t for t in listed)
    assert api.client.delete("/api/v1/tokens/admin-1", headers=api.headers(Role.ADMIN)).status_code == 409


@pytest.mark.parametrize("role", list(Role))
def test_metrics_and_health(api_factory, role: Role) -> None:
    api = api_factory(None)
    assert api.client.get("/api/v1/health").json()["database"] == "ok"
    resp = api.get("/metrics", role=role)
    assert resp.status_code == 200 and "factoryloop_api_http_requests_total" in resp.text
