"""API fixtures: a database URL per backend (sqlite, postgres), settings, and app clients with tokens."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import Role, create_token
from api.settings import ApiSettings
from factoryloop.settings import KafkaSettings
from tests.integration.api.postgres import PostgresUnavailable, fresh_database, local_server


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    url = os.environ.get("FACTORYLOOP_TEST_POSTGRES_URL")
    if url:
        yield (
            url.replace("postgresql://", "postgresql+psycopg://", 1)
            if url.startswith("postgresql://")
            else url
        )
        return
    try:
        with local_server() as admin_url:
            yield admin_url
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'api.db'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    with fresh_database(admin_url) as url:
        yield url


@dataclass
class ApiHarness:
    settings: ApiSettings
    client: TestClient
    tokens: dict[Role, str]

    def headers(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, url: str, role: Role = Role.SUPERVISOR, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers(role), **kw)

    def post(self, url: str, role: Role = Role.SUPERVISOR, **kw: Any) -> Any:
        return self.client.post(url, headers=self.headers(role), **kw)


@pytest.fixture
def api_factory(db_url: str, tmp_path: Path) -> Iterator[Callable[..., ApiHarness]]:
    """Build an app (migrated, one token per role) on the test's database; the sink runs if ``kafka``
    given."""
    opened: list[TestClient] = []

    def make(
        kafka: KafkaSettings | None = None, *, run_sink: bool | None = None, **overrides: Any
    ) -> ApiHarness:
        settings = ApiSettings(
            database_url=db_url,
            frames_dir=tmp_path / "frames",
            products_dir=overrides.pop("products_dir", tmp_path / "products"),
            kafka=kafka or KafkaSettings(bootstrap_servers="127.0.0.1:1"),
            mlflow_tracking_uri=overrides.pop("mlflow_tracking_uri", "http://127.0.0.1:1"),
            sink_group_id=f"api-test-{tmp_path.name}",
            sink_poll_timeout_ms=100,
            **overrides,
        )
        app = create_app(settings, run_sink=(kafka is not None) if run_sink is None else run_sink)
        ctx = app.state.ctx
        pepper = settings.token_pepper.get_secret_value()
        tokens = {role: create_token(ctx.db, f"{role.value}-1", role, pepper) for role in Role}
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        return ApiHarness(settings=settings, client=client, tokens=tokens)

    yield make
    for client in opened:
        client.__exit__(None, None, None)
