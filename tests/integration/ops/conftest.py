"""Fixtures of the operations tests: no location overrides from the environment; PostgreSQL if any."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.integration.api.postgres import PostgresUnavailable, local_server

LOCATION_VARS = (
    "FACTORYLOOP_API_DATABASE_URL",
    "FACTORYLOOP_API_FRAMES_DIR",
    "FACTORYLOOP_API_PRODUCTS_DIR",
    "FACTORYLOOP_DATASETS",
    "FACTORYLOOP_TRAIN_STATE_DIR",
    "MLFLOW_BACKEND_STORE_URI",
    "MLFLOW_ARTIFACTS_DESTINATION",
)


@pytest.fixture(autouse=True)
def _no_location_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Locations come from the home given to each call, not from the developer's environment."""
    for name in LOCATION_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Admin URL of a PostgreSQL server (FACTORYLOOP_TEST_POSTGRES_URL, or one started here)."""
    url = os.environ.get("FACTORYLOOP_TEST_POSTGRES_URL")
    if url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
        return
    try:
        with local_server() as admin_url:
            yield admin_url
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
