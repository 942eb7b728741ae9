"""Site safety of the API: the placeholder token pepper refused outside the local stack; expiring tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.db.engine import Database
from api.db.migrate import upgrade
from api.db.models import TokenRow
from api.errors import InsecureSettingsError, InvalidRequestError, TokenExpiredError
from api.security import Role, authenticate, create_token, expiry
from api.settings import PLACEHOLDER_PEPPER, ApiSettings, get_settings

GOOD = "k3Jx9-secret-pepper-of-a-site"
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("environment", "pepper", "refused"),
    [
        ("local", PLACEHOLDER_PEPPER, None),
        ("local", "short", None),
        ("site", PLACEHOLDER_PEPPER, "the placeholder token pepper"),
        ("site", "short-pepper", "a 12-character token pepper"),
        ("site", GOOD, None),
    ],
)
def test_pepper_check(environment: str, pepper: str, refused: str | None) -> None:
    settings = ApiSettings(environment=environment, token_pepper=SecretStr(pepper))  # type: ignore[arg-type]
    if refused is None:
        settings.check_site_secrets()
        return
    with pytest.raises(InsecureSettingsError) as err:
        settings.check_site_secrets()
    assert refused in err.value.message
    assert "FACTORYLOOP_API_TOKEN_PEPPER" in err.value.message
    assert "FACTORYLOOP_API_ENVIRONMENT=local" in err.value.message


def test_environment_defaults_to_site(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACTORYLOOP_API_ENVIRONMENT", raising=False)
    monkeypatch.delenv("FACTORYLOOP_API_TOKEN_PEPPER", raising=False)
    settings = ApiSettings()
    assert settings.environment == "site"
    with pytest.raises(InsecureSettingsError):
        create_app(settings)


@pytest.mark.parametrize("command", [["serve"], ["create-token", "--role", "admin", "--name", "ops"]])
def test_cli_refuses_placeholder_pepper_on_a_site(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTORYLOOP_API_ENVIRONMENT", "site")
    monkeypatch.delenv("FACTORYLOOP_API_TOKEN_PEPPER", raising=False)
    monkeypatch.setenv("FACTORYLOOP_API_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, command)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "set FACTORYLOOP_API_TOKEN_PEPPER" in result.output
    assert not (tmp_path / "cli.db").exists()  # refused before touching the database


@pytest.mark.parametrize(
    ("days", "at", "want"),
    [
        (None, None, None),
        (30, None, NOW + timedelta(days=30)),
        (None, datetime(2027, 1, 1, 6, 0), datetime(2027, 1, 1, 6, 0, tzinfo=UTC)),  # naive: UTC
        (None, datetime(2027, 1, 1, 8, 0, tzinfo=UTC), datetime(2027, 1, 1, 8, 0, tzinfo=UTC)),
        (1, datetime(2027, 1, 1, tzinfo=UTC), "not both"),
        (0, None, "at least 1"),
        (None, NOW - timedelta(seconds=1), "not in the future"),
    ],
)
def test_expiry(days: int | None, at: datetime | None, want: datetime | str | None) -> None:
    if isinstance(want, str):
        with pytest.raises(InvalidRequestError, match=want):
            expiry(days, at, now=NOW)
    else:
        assert expiry(days, at, now=NOW) == want


def test_expired_token_refused_with_its_time(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(db.engine)
    soon = datetime.now(UTC) + timedelta(hours=1)
    token = create_token(db, "temp", Role.SUPERVISOR, "pepper", expires_at=soon)
    assert authenticate(db, token, "pepper").name == "temp"  # type: ignore[union-attr]
    past = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with db.session() as s:
        s.execute(select(TokenRow).where(TokenRow.name == "temp")).scalar_one().expires_at = past
    with pytest.raises(TokenExpiredError) as err:
        authenticate(db, token, "pepper")
    assert err.value.status == 401 and err.value.code == "token_expired"
    assert "token expired on 2026-01-02 03:04:05 UTC" in err.value.message
    assert authenticate(db, "flt_unknown", "pepper") is None
    db.dispose()


def test_cli_creates_an_expiring_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTORYLOOP_API_ENVIRONMENT", "local")
    monkeypatch.setenv("FACTORYLOOP_API_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        args = ["create-token", "--role", "supervisor", "--name", "tmp", "--expires-in-days", "7"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        bad = CliRunner().invoke(cli, [*args[:-1], "0"])
        assert bad.exit_code == 2
    finally:
        get_settings.cache_clear()
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    with db.session() as s:
        row = s.execute(select(TokenRow).where(TokenRow.name == "tmp")).scalar_one()
    db.dispose()
    assert row.expires_at is not None
    assert abs(row.expires_at - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=5)


def test_the_local_stack_runs_the_api_as_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from factoryloop.stack.api_server import ApiServer

    monkeypatch.delenv("FACTORYLOOP_API_ENVIRONMENT", raising=False)
    server = ApiServer(tmp_path, 8000, kafka_bootstrap="127.0.0.1:9092", mlflow_uri="http://127.0.0.1:5000")
    assert server.environment()["FACTORYLOOP_API_ENVIRONMENT"] == "local"
    monkeypatch.setenv("FACTORYLOOP_API_ENVIRONMENT", "site")  # an operator's choice wins
    assert server.environment()["FACTORYLOOP_API_ENVIRONMENT"] == "site"
