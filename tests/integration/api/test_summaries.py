"""The hourly summary tables equal a direct aggregation of the event tables: after batches with in-batch
duplicates and replays (sink writer), after the migration's backfill, and through the stats routes for ranges
that do not start or end on a whole hour. Also: the models and the migrations describe the same schema."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from api.db.engine import Database
from api.db.migrate import alembic_config, upgrade
from api.db.models import Base, DetectionRow, InspectionRow
from api.db.upsert import insert_ignore, table
from api.frames.store import LocalFrameStore
from api.sink.rows import to_rows
from api.sink.writer import SinkWriter
from factoryloop.schemas import Outcome, Verdict
from tests.integration.api.helpers import direct, direct_sightings, hour, sightings, summaries
from tests.support.events import detection, outcome

T0 = datetime(2026, 5, 4, 3, 10, tzinfo=UTC)
CLASSES = ("scratch", "dent", "crack")


def events(n: int = 240, seed: int = 3) -> list[Outcome]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        verdict = rng.choice([Verdict.PASS, Verdict.PASS, Verdict.FAIL, Verdict.UNCERTAIN])
        boxes = rng.randint(1, 3) if verdict is not Verdict.PASS else 0
        out.append(
            outcome(
                ts=T0 + timedelta(minutes=3 * i, seconds=rng.randrange(60)),
                line_id=rng.choice(["line-a", "line-b"]),
                station_id=rng.choice(["st-1", "st-2"]),
                product=rng.choice([None, "widget"]),
                verdict=verdict,
                shadow=rng.random() < 0.1,
                detections=tuple(detection(class_name=rng.choice(CLASSES)) for _ in range(boxes)),
            )
        )
    return out


def test_sink_keeps_summaries_equal_to_direct_aggregation_through_duplicates(
    db_url: str, tmp_path: Path
) -> None:
    db = Database(db_url)
    upgrade(db.engine)
    writer = SinkWriter(db.engine, LocalFrameStore(tmp_path / "frames"))
    evs = events()
    rng = random.Random(5)
    for start in range(0, len(evs), 40):
        batch = evs[start : start + 40]
        batch = (
            batch + rng.sample(batch, 5) + rng.sample(evs[:start], min(start, 10))
        )  # in-batch dups, replays
        rng.shuffle(batch)
        writer.write(batch)
    result = writer.write(evs)  # a full replay stores and counts nothing
    assert result.inserted == 0
    counts, by_class = direct(db)
    assert summaries(db) == (counts, by_class)
    assert sightings(db) == direct_sightings(db)
    assert sum(counts.values()) == sum(1 for e in evs if not e.shadow)  # each unique event counted once
    assert sum(v[0] for v in by_class.values()) == sum(len(e.detections) for e in evs if not e.shadow)
    db.dispose()


def test_migration_backfills_summaries_and_downgrades(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db.engine, "0001")
    batch = to_rows(events(seed=8))
    with db.engine.begin() as conn:  # rows stored before the summaries existed
        insert_ignore(conn, table(InspectionRow), batch.inspections)
        insert_ignore(conn, table(DetectionRow), batch.detections)
    upgrade(db.engine)
    counts, by_class = direct(db)
    assert counts and summaries(db) == (counts, by_class)
    assert sightings(db) == direct_sightings(db) != {}
    command.downgrade(alembic_config(db.engine), "0001")
    upgrade(db.engine)
    assert summaries(db) == (counts, by_class)
    assert sightings(db) == direct_sightings(db)
    db.dispose()


def test_models_and_migrations_agree(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db.engine)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    db.dispose()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (timedelta(minutes=17, seconds=5), timedelta(hours=9, minutes=43)),  # edges on both sides
        (timedelta(minutes=40), timedelta(hours=1, minutes=20)),  # no whole hour, one hour boundary
        (timedelta(minutes=52), timedelta(minutes=58)),  # inside one hour
        (timedelta(minutes=50), timedelta(hours=6, minutes=50)),  # whole hours from the start of an hour
    ],
)
def test_stats_routes_equal_direct_aggregation_on_ranges_off_the_hour(
    api_factory, start: timedelta, end: timedelta
) -> None:
    api = api_factory(None)
    ctx = api.client.app.state.ctx
    evs = events(seed=11)
    SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir)).write(evs + evs[:30])
    since, until = T0 + start, T0 + end
    kept = [e for e in evs if not e.shadow and since <= e.ts < until]
    rng = {"since": since.isoformat(), "until": until.isoformat()}
    points = api.get(
        "/api/v1/stats/defect-rate", params={**rng, "bucket": "hour", "by_station": "true"}
    ).json()
    got = {
        (p["bucket_start"], p["line_id"], p["station_id"]): (p["total"], p["fail"], p["uncertain"])
        for p in points["points"]
    }
    want: dict[tuple[str, str, str], list[int]] = {}
    for e in kept:
        key = (hour(e.ts).isoformat().replace("+00:00", "Z"), e.line_id, e.station_id)
        acc = want.setdefault(key, [0, 0, 0])
        acc[0] += 1
        acc[1] += e.verdict is Verdict.FAIL
        acc[2] += e.verdict is Verdict.UNCERTAIN
    assert got == {k: tuple(v) for k, v in want.items()}

    flagged = [e for e in kept if e.verdict is not Verdict.PASS]
    top = api.get("/api/v1/stats/top-classes", params=rng).json()
    names = Counter(d.class_name for e in flagged for d in e.detections)
    assert {t["class_name"]: t["count"] for t in top} == dict(names)
    classes = api.get("/api/v1/stats/classes", params={**rng, "bucket": "shift"}).json()["points"]
    assert sum(p["count"] for p in classes) == sum(names.values())
    first = api.get("/api/v1/stats/first-seen", params={"line_id": "line-a"}).json()
    on_a = [e for e in evs if not e.shadow and e.line_id == "line-a" and e.verdict is not Verdict.PASS]
    want_first = {c: min(e.ts for e in on_a if any(d.class_name == c for d in e.detections)) for c in CLASSES}
    assert {f["class_name"]: datetime.fromisoformat(f["first_seen"]) for f in first} == want_first
