"""The sink's driver-level inserts (api.db.fastpath) store exactly what SQLAlchemy's own binding stores, on
SQLite and PostgreSQL, for every table the sink writes; and ``insert_new`` returns exactly the rows it
inserted (first of in-batch duplicates, none of those already stored, in batch order)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import JSON, Connection, Table, select

from api.db.engine import Database
from api.db.fastpath import insert_ignore as fast_insert
from api.db.migrate import upgrade
from api.db.models import (
    AgentEventRow,
    DeploymentRow,
    DetectionRow,
    HeartbeatRow,
    InspectionRow,
    ReviewRow,
    RolloutRow,
)
from api.db.upsert import table
from api.sink.rows import RowBatch, to_rows
from api.sink.summary import insert_new
from factoryloop.schemas import RolloutEvent, RolloutRequest, RolloutState
from tests.support.events import agent_event, deployment, detection, heartbeat, label, outcome

T0 = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
PLUS2 = timezone(timedelta(hours=2))


def _events() -> list[Any]:
    return [
        outcome(ts=T0, verdict="FAIL", detections=(detection(), detection(class_name="dent"))),
        outcome(ts=T0 + timedelta(seconds=1), thresholds={"scratch": 0.5, "dent": 1.0}, product="widget"),
        outcome(ts=datetime(2026, 3, 4, 7, 0, tzinfo=PLUS2), sample_reason="uncertain", item_id="i-1"),
        outcome(ts=T0.replace(microsecond=0), shadow=True, verdict="UNCERTAIN"),
        heartbeat(ts=T0),
        agent_event(ts=T0),
        label(ts=T0, comment="looks fine"),
        deployment(ts=T0),
        RolloutRequest(request_id="req-00001", product="widget", action="deploy", requested_by="alice"),
        RolloutEvent(
            rollout_id="roll-00001",
            product="widget",
            model_name="m",
            model_version="3",
            state=RolloutState.CANARY,
            agents=("a-1", "a-2"),
            evidence={"outcomes": 12.0, "p99_ms": 40.5},
        ),
    ]


def _tables(batch: RowBatch) -> list[tuple[Table, list[dict[str, Any]]]]:
    return [
        (table(InspectionRow), batch.inspections),
        (table(DetectionRow), batch.detections),
        (table(HeartbeatRow), batch.heartbeats),
        (table(AgentEventRow), batch.agent_events),
        (table(ReviewRow), batch.reviews),
        (table(DeploymentRow), batch.deployments),
        (table(RolloutRow), batch.rollouts),
    ]


def _stored(conn: Connection, tbl: Table) -> list[tuple[Any, ...]]:
    """The stored values as the driver returns them (SQLite: the text; PostgreSQL: JSON as its text), without
    the generated id: no result processing of SQLAlchemy's in between."""
    pg = conn.dialect.name == "postgresql"
    cols = [f'"{c.name}"::text' if pg and isinstance(c.type, JSON) else f'"{c.name}"' for c in tbl.c]
    keep = ", ".join(col for col, c in zip(cols, tbl.c, strict=True) if c.name != "id")
    order = ", ".join(f'"{c.name}"' for c in tbl.primary_key.columns)
    return [tuple(r) for r in conn.exec_driver_sql(f'SELECT {keep} FROM "{tbl.name}" ORDER BY {order}')]


def test_fast_inserts_store_what_sqlalchemy_stores(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db.engine)
    batch = to_rows(_events(), now=datetime(2026, 3, 4, 8, 0, 0, 1, tzinfo=UTC))
    tables = _tables(batch)
    assert all(rows for _, rows in tables), "every table gets rows"
    with db.engine.begin() as conn:
        assert [fast_insert(conn, conn.dialect.name, t, rows) for t, rows in tables] == [
            len(rows) for _, rows in tables
        ]
    with db.engine.connect() as conn:
        fast = {t.name: _stored(conn, t) for t, _ in tables}
    with db.engine.begin() as conn:
        for t, rows in tables:
            conn.execute(t.delete())
            conn.execute(t.insert(), rows)  # SQLAlchemy's own bind processing
    with db.engine.connect() as conn:
        for t, _ in tables:
            assert _stored(conn, t) == fast[t.name], t.name
    db.dispose()


@pytest.mark.parametrize(
    ("stored", "batch", "new"),
    [
        ([], [0, 1, 2], [0, 1, 2]),
        ([], [0, 1, 0, 2, 1], [0, 1, 2]),  # in-batch duplicates: the first of each
        ([0, 2], [0, 1, 2, 3], [1, 3]),  # a partial replay
        ([0, 1], [1, 0, 1], []),  # all stored
    ],
)
def test_insert_new_returns_the_rows_it_inserted(
    db_url: str, stored: list[int], batch: list[int], new: list[int]
) -> None:
    db = Database(db_url)
    upgrade(db.engine)
    events = [outcome(ts=T0 + timedelta(seconds=i), frame_id=str(i)) for i in range(4)]
    rows = to_rows(events).inspections
    tbl = table(InspectionRow)

    def write(picks: list[int]) -> list[dict[str, Any]]:
        with db.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            # copies: a row of a later position is a distinct dict, as a decoded duplicate would be
            picked = [dict(rows[i], frame_id=f"{i}@{n}") for n, i in enumerate(picks)]
            return insert_new(conn, tbl, picked, "event_id")

    write(stored)
    got = write(batch)
    assert [r["event_id"] for r in got] == [rows[i]["event_id"] for i in new]
    first_positions = {i: batch.index(i) for i in new}
    assert [r["frame_id"] for r in got] == [f"{i}@{first_positions[i]}" for i in new]
    with db.engine.connect() as conn:
        n = conn.execute(select(tbl.c.event_id)).all()
    assert len(n) == len(set(stored) | set(batch))
    db.dispose()
