"""The review queue as the sink keeps it (SinkWriter on SQLite and PostgreSQL): rarity counted within and
across batches, shadow outcomes compared in the same or a later batch, reviews taking frames out (also a
label stored before its outcome), replays queueing nothing twice, the per-day class counts equal to the
detections; migration 0006's backfill and downgrade; the queue's queries walk its indexes."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, inspect, select, text

from api.db.engine import Database
from api.db.migrate import alembic_config, upgrade
from api.db.models import ClassDayRow, DetectionRow, FrameRow, InspectionRow, ReviewQueueRow, ReviewRow
from api.db.upsert import insert_ignore, table
from api.frames.store import LocalFrameStore
from api.services.review_queue import QueueOrder, review_queue
from api.sink.rows import to_rows
from api.sink.writer import SinkWriter
from factoryloop.schemas import Outcome, Verdict
from tests.support.events import detection, label, outcome

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture
def sink(db_url: str, tmp_path: Path) -> Any:
    db = Database(db_url)
    upgrade(db.engine)
    writer = SinkWriter(db.engine, LocalFrameStore(tmp_path / "frames"))
    yield db, writer
    db.dispose()


def made(i: int, verdict: str = "FAIL", classes: tuple[str, ...] = ("scratch",), **kw: Any) -> Outcome:
    base: dict[str, Any] = {
        "ts": T0 + timedelta(seconds=i),
        "captured_at": T0 + timedelta(seconds=i),
        "frame_id": f"f-{i}",
        "verdict": verdict,
        "sample_reason": "fail" if verdict == "FAIL" else None,
        "detections": tuple(detection(class_name=c, confidence=0.97) for c in classes),
    }
    return outcome(**(base | kw))


def shadow_of(o: Outcome, classes: tuple[str, ...], **kw: Any) -> Outcome:
    boxes = tuple(detection(class_name=c) for c in classes)
    update = {"event_id": "s" + o.event_id[1:], "shadow": True, "detections": boxes, "sample_reason": None}
    if "verdict" in kw:
        kw["verdict"] = Verdict(kw["verdict"])
    return o.model_copy(update=update | kw)


def queued(db: Database) -> dict[str, Any]:
    q = table(ReviewQueueRow)
    with db.engine.connect() as conn:
        return {r.outcome_event_id: r for r in conn.execute(select(q))}


def test_rarity_counts_earlier_outcomes_of_the_batch_and_of_stored_days(sink: Any) -> None:
    db, writer = sink
    first = [made(i, classes=("crack",)) for i in range(3)]
    writer.write(first)
    writer.write([made(10, classes=("crack",)), made(11, sample_reason=None, classes=("crack",) * 2)])
    other, last = made(12, classes=("crack",), product="other"), made(13, classes=("crack",))
    writer.write([other, last])
    q = queued(db)
    assert [q[o.event_id].rarity for o in first] == pytest.approx([1.0, 10 / 11, 10 / 12])
    assert q[first[0].event_id].reason == "new class crack (first in 7 days)"
    assert q[first[1].event_id].reason == "rare class crack (1 in 7 days)"
    assert q[other.event_id].rarity == 1.0  # another product is counted apart
    assert q[last.event_id].reason == "rare class crack (6 in 7 days)"  # 3 + 1 + the unqueued one's 2 boxes
    assert q[last.event_id].rarity == pytest.approx(10 / 16)


def test_shadow_outcomes_raise_their_champions_priority(sink: Any) -> None:
    db, writer = sink
    same_batch, stored, agreeing, other_capture = (made(i) for i in range(4))
    writer.write([same_batch, shadow_of(same_batch, ("scratch", "dent")), stored, agreeing, other_capture])
    before = queued(db)[stored.event_id]
    writer.write(
        [
            shadow_of(stored, ("dent",)),
            shadow_of(agreeing, ("scratch",), verdict="FAIL"),
            shadow_of(other_capture, ("dent",), captured_at=T0 - timedelta(days=1)),  # same frame id, not it
        ]
    )
    q = queued(db)
    assert q[same_batch.event_id].disagreement == 1.0
    assert q[same_batch.event_id].reason.endswith("shadow disagrees: model scratch, shadow dent, scratch")
    assert q[stored.event_id].disagreement == 1.0
    assert q[stored.event_id].priority == pytest.approx(before.priority + 0.25)
    assert q[stored.event_id].rank == pytest.approx(before.rank + 0.25)
    assert q[agreeing.event_id].disagreement == 0.0 and q[other_capture.event_id].disagreement == 0.0
    writer.write([shadow_of(agreeing, ("scratch",), verdict="UNCERTAIN", event_id="t" * 32)])
    assert queued(db)[agreeing.event_id].reason.endswith("shadow verdict UNCERTAIN vs FAIL")


def test_reviews_take_frames_out_and_replays_queue_nothing_twice(sink: Any) -> None:
    db, writer = sink
    early = made(1)  # its label is stored first (another partition, read earlier)
    reviewed, waiting = (
        made(2, verdict="UNCERTAIN", classes=()),
        made(3, verdict="PASS", sample_reason="pass_sample"),
    )
    skipped = made(4, verdict="PASS")  # neither UNCERTAIN nor sampled: never queued
    writer.write([label(outcome_event_id=early.event_id)])
    writer.write([early, reviewed, waiting, skipped, shadow_of(reviewed, ())])
    assert set(queued(db)) == {reviewed.event_id, waiting.event_id}
    writer.write([label(outcome_event_id=reviewed.event_id, product="widget")])
    writer.write([early, reviewed, waiting, skipped])  # a replay
    assert set(queued(db)) == {waiting.event_id}
    with db.engine.connect() as conn:
        r = conn.execute(
            select(table(ReviewRow)).where(ReviewRow.outcome_event_id == reviewed.event_id)
        ).one()
    assert (r.product, r.offered_for, r.review_ms) == ("widget", "uncertain", None)
    assert r.priority == pytest.approx(0.4 * 0.5)  # an UNCERTAIN verdict without boxes


def test_class_days_equal_the_stored_detections(sink: Any) -> None:
    db, writer = sink
    rng = random.Random(4)
    events = [
        made(
            i * 3000,
            verdict=rng.choice(["PASS", "FAIL", "UNCERTAIN"]),
            classes=tuple(rng.choice(["scratch", "dent"]) for _ in range(rng.randint(0, 2))),
            product=rng.choice([None, "widget"]),
            shadow=rng.random() < 0.2,
        )
        for i in range(120)
    ]
    for start in range(0, 120, 25):
        writer.write(events[start : start + 30])  # overlapping batches: replays
    assert day_counts(db) == direct_days(db) != Counter()


def day_counts(db: Database) -> Counter[tuple[Any, ...]]:
    c = ClassDayRow
    with db.session() as s:
        rows = s.execute(select(c.line_id, c.product, c.class_name, c.day, c.n)).all()
    return Counter({tuple(r[:4]): r[4] for r in rows})


def direct_days(db: Database) -> Counter[tuple[Any, ...]]:
    i, d = InspectionRow, DetectionRow
    with db.session() as s:
        rows = s.execute(
            select(d.line_id, i.product, d.class_name, d.ts)
            .join(i, i.event_id == d.outcome_event_id)
            .where(~d.shadow)
        ).all()
    return Counter(
        (r[0], r[1] or "", r[2], r[3].replace(hour=0, minute=0, second=0, microsecond=0)) for r in rows
    )


def test_migration_backfills_the_queue_and_downgrades(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db.engine, "0001")  # rows stored before the summaries too: 0002 and 0006 backfill them
    events = [
        made(1, verdict="UNCERTAIN", classes=("pit",), sample_reason="uncertain"),
        made(2, classes=("scratch",)),
        made(3, verdict="PASS", classes=()),  # not sampled: not queued
        made(4, verdict="FAIL", classes=("dent",)),  # reviewed: not queued
        made(5, verdict="FAIL", classes=("dent",), shadow=True),
    ]
    events[0] = events[0].model_copy(update={"detections": (detection(class_name="pit", confidence=0.48),)})
    batch = to_rows([*events, label(outcome_event_id=events[3].event_id)])
    with db.engine.begin() as conn:
        insert_ignore(conn, table(InspectionRow), batch.inspections)
        insert_ignore(conn, table(DetectionRow), batch.detections)
        old = [
            {k: v for k, v in r.items() if k not in ("product", "review_ms", "priority", "offered_for")}
            for r in batch.reviews
        ]
        insert_ignore(conn, table(ReviewRow), old)
    upgrade(db.engine)
    q = queued(db)
    assert set(q) == {events[0].event_id, events[1].event_id}
    assert q[events[0].event_id].uncertainty == pytest.approx(0.96)
    assert q[events[0].event_id].priority == pytest.approx(0.4 * 0.96)
    assert q[events[0].event_id].reason == "uncertain"
    assert q[events[1].event_id].uncertainty == pytest.approx(0.06) and q[events[1].event_id].reason == ""
    assert q[events[0].event_id].rank > q[events[1].event_id].rank
    assert day_counts(db) == direct_days(db)
    command.downgrade(alembic_config(db.engine), "0005")
    with db.engine.connect() as conn:
        assert "review_ms" not in {c["name"] for c in inspect(conn).get_columns("reviews")}
        assert not inspect(conn).has_table("review_queue")
    upgrade(db.engine)
    assert set(queued(db)) == set(q)
    db.dispose()


@pytest.mark.parametrize("order", list(QueueOrder))
@pytest.mark.parametrize("line_id", [None, "line-3"])
def test_queue_queries_walk_the_queue_indexes(sink: Any, order: QueueOrder, line_id: str | None) -> None:
    """With many queued rows the ordered, limited walk reads an index in order (no sort of the queue; with a
    line, PostgreSQL may walk the global index and filter the line when the line holds many of the rows)."""
    db, _ = sink
    q = table(ReviewQueueRow)
    rows = [
        {
            "outcome_event_id": f"{i:032x}",
            "ts": T0 + timedelta(seconds=i),
            "captured_at": T0,
            "line_id": f"line-{i % 7}",
            "product": None,
            "agent_id": "a",
            "frame_id": f"f-{i}",
            "frame_sha256": "a" * 64,
            "uncertainty": 0.0,
            "rarity": 0.0,
            "disagreement": 0.0,
            "priority": (i % 100) / 100,
            "rank": (i % 100) / 100 + i / 1e6,
            "reason": "",
        }
        for i in range(20_000)
    ]
    frame = {"sha256": "a" * 64, "path": "a", "size_bytes": 1, "width": 1, "height": 1, "line_id": "l"}
    frame |= {"station_id": "s", "outcome_event_id": None, "sample_reason": None}
    frame |= {"captured_at": T0, "received_at": T0}
    with db.engine.begin() as conn:
        insert_ignore(conn, q, rows)
        insert_ignore(conn, table(FrameRow), [frame])
        conn.execute(text("ANALYZE"))
    with db.session() as s:
        sql, params = _statement(s, line_id, order)
        conn = s.connection()
        explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        plan = "\n".join(str(r[-1]) for r in conn.exec_driver_sql(explain + sql, params))
    key = {QueueOrder.PRIORITY: "rank", QueueOrder.NEWEST: "ts", QueueOrder.OLDEST: "ts"}[order]
    walk = plan.split("SCAN anon_1")[0]  # SQLite: the subquery's part; PostgreSQL: one plan tree
    assert re.search(rf"(SCAN|SEARCH|Index Scan.*using) .*ix_review_queue_(line_)?{key}\b", walk), plan
    assert "TEMP B-TREE" not in walk and plan.count("Sort  (") <= 1, plan  # only the page's 50 rows sorted
    assert "Seq Scan on review_queue" not in plan, plan


def _statement(s: Any, line_id: str | None, order: QueueOrder) -> tuple[str, Any]:
    """The SQL and parameters review_queue() runs (captured from the connection)."""
    conn = s.connection()
    seen: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", grab)
    try:
        review_queue(s, line_id, 50, order)
    finally:
        event.remove(conn, "before_cursor_execute", grab)
    return seen[0]
