"""Units of the API package that need no broker: cursors, roles, token hashing, time ranges, frame store,
event-to-row mapping, migrations and the CLI."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from api.cli import app as cli
from api.db.engine import Database
from api.db.migrate import upgrade
from api.errors import ApiError, FrameStoreError, InvalidRequestError, NotFoundError
from api.frames.store import LocalFrameStore, LocalFrameStoreConfig, make_frame_store
from api.security import Role, authenticate, create_token, hash_token
from api.services.cursor import decode_cursor, encode_cursor
from api.services.timerange import check_range
from api.settings import get_settings
from api.sink.rows import to_rows
from tests.support.events import agent_event, deployment, heartbeat, label, outcome


def test_cursor_round_trip() -> None:
    ts = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert decode_cursor(encode_cursor(ts, 42)) == (ts, 42)


@pytest.mark.parametrize(
    "cursor", ["", "!!!", "bm90IGpzb24", "WyJ4IiwxXQ", "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwxXQ"]
)
def test_bad_cursors_are_422(cursor: str) -> None:
    with pytest.raises(InvalidRequestError):
        decode_cursor(cursor)


@pytest.mark.parametrize(("row_id", "ok"), [(0, True), (2**63 - 1, True), (2**63, False), (-1, False)])
def test_cursor_ids_stay_within_64_bits(row_id: int, ok: bool) -> None:
    """A crafted cursor beyond a BIGINT made PostgreSQL fail the query (a 500): it is refused up front."""
    cursor = encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), row_id)
    if ok:
        assert decode_cursor(cursor)[1] == row_id
    else:
        with pytest.raises(InvalidRequestError, match="invalid cursor"):
            decode_cursor(cursor)


@pytest.mark.parametrize(
    ("have", "need", "allowed"),
    [
        (Role.SUPERVISOR, Role.SUPERVISOR, True),
        (Role.SUPERVISOR, Role.ENGINEER, False),
        (Role.ENGINEER, Role.SUPERVISOR, True),
        (Role.ENGINEER, Role.ADMIN, False),
        (Role.ADMIN, Role.ENGINEER, True),
    ],
)
def test_role_order(have: Role, need: Role, allowed: bool) -> None:
    assert have.allows(need) is allowed


def test_tokens_are_stored_hashed(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(db.engine)
    token = create_token(db, "alice", Role.ENGINEER, "pepper")
    with db.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM tokens").scalar_one()
    assert stored == hash_token(token, "pepper") and token not in stored
    assert authenticate(db, token, "pepper").role is Role.ENGINEER  # type: ignore[union-attr]
    assert authenticate(db, token, "other-pepper") is None
    with pytest.raises(ApiError, match="exists"):
        create_token(db, "alice", Role.ADMIN, "pepper")


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(1, 1, 1, tzinfo=UTC), None),
    ],
)
def test_bad_time_ranges(since: datetime, until: datetime | None) -> None:
    with pytest.raises(InvalidRequestError):
        check_range(since, until)


def test_default_range_and_naive_times_are_utc() -> None:
    since, until = check_range(None, datetime(2026, 1, 8), timedelta(days=7))
    assert since == datetime(2026, 1, 1, tzinfo=UTC) and until == datetime(2026, 1, 8, tzinfo=UTC)


def test_frame_store(tmp_path: Path) -> None:
    store = make_frame_store(LocalFrameStoreConfig(root=tmp_path))
    data = b"\xff\xd8 jpeg"
    sha = hashlib.sha256(data).hexdigest()
    key = store.put(sha, data)
    assert key == f"{sha[:2]}/{sha[2:4]}/{sha}.jpg" and store.put(sha, data) == key
    assert store.get(sha) == data and store.exists(sha)
    with pytest.raises(FrameStoreError):
        store.put("0" * 64, data)
    with pytest.raises(NotFoundError):
        store.get("1" * 64)
    with pytest.raises(FrameStoreError):
        LocalFrameStore(tmp_path).get("../../etc/passwd")


def test_rows_by_kind() -> None:
    hb_old = heartbeat(ts=datetime(2026, 1, 1, tzinfo=UTC), fps=1.0)
    hb_new = heartbeat(ts=datetime(2026, 1, 2, tzinfo=UTC), fps=2.0)
    batch = to_rows([outcome(), hb_new, hb_old, agent_event(), label(), deployment(), object()])
    assert len(batch.inspections) == 1 and len(batch.detections) == 1
    assert len(batch.heartbeats) == 2 and batch.agents["agent-1"]["fps"] == 2.0
    assert len(batch.reviews) == 1 and len(batch.deployments) == 1 and len(batch.agent_events) == 1
    assert batch.ignored == 1


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(db.engine)
    upgrade(db.engine)
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "inspections",
        "detections",
        "frames",
        "reviews",
        "agents",
        "deployments",
        "retrain_jobs",
        "tokens",
    } <= tables
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


def test_cli_migrate_and_create_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTORYLOOP_API_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(cli, ["migrate"]).exit_code == 0
        result = runner.invoke(cli, ["create-token", "--role", "engineer", "--name", "bob"])
        assert result.exit_code == 0 and result.output.strip().startswith("flt_")
        assert runner.invoke(cli, ["create-token", "--role", "engineer", "--name", "bad name"]).exit_code != 0
        db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
        principal = authenticate(db, result.output.strip(), get_settings().token_pepper.get_secret_value())
        assert principal is not None and principal.name == "bob"
    finally:
        get_settings.cache_clear()
