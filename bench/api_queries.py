"""Query part of bench/bench_api.py: defect lists and stats over HTTP on a database of N generated rows.

The database is generated at migration 0001 (bulk executemany on SQLite, COPY on PostgreSQL), then upgraded
to head, which times the backfill of the hourly summaries and the new index. ``--db PATH`` keeps a SQLite
database for later runs (10M rows take minutes to generate); ``--postgres-url URL`` runs on PostgreSQL, whose
database is kept the same way (an empty database is filled; one holding another row count is refused).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api_data import CLASSES, LINES, bulk_rows, bulk_rows_postgres, timed
from fastapi.testclient import TestClient
from sqlalchemy import case, func, select

from api.app import create_app
from api.db.engine import Database
from api.db.migrate import upgrade
from api.db.models import InspectionRow
from api.heap import freeze_startup_heap
from api.security import Role, create_token
from api.services.cursor import encode_cursor
from api.services.timerange import bucket_expr
from api.settings import ApiSettings

T0 = datetime(2026, 1, 1, tzinfo=UTC)
Record = Callable[..., None]


def prepare(url: str, n_rows: int, record: Record) -> None:
    """Generate ``n_rows`` at revision 0001 and migrate to head, unless the database holds them already."""
    db = Database(url)
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite and Path(db.engine.url.database or "").exists():
        db.dispose()
        return
    if not sqlite:
        with db.engine.connect() as conn:
            have = conn.exec_driver_sql("SELECT to_regclass('inspections') IS NOT NULL").scalar()
            count = conn.exec_driver_sql("SELECT count(*) FROM inspections").scalar() if have else 0
        if count == n_rows:
            db.dispose()
            return
        if have:  # never drop someone's data: the bench fills an empty database only
            db.dispose()
            raise SystemExit(
                f"{db.engine.url.render_as_string()} already holds {count:,} inspections, not {n_rows:,}: "
                "pass an empty PostgreSQL database (the bench fills it) or drop its tables first"
            )
    upgrade(db.engine, "0001")
    db.dispose()
    t = time.perf_counter()
    if sqlite:
        bulk_rows(Path(db.engine.url.database or ""), n_rows, T0)
    else:
        bulk_rows_postgres(db.engine.url.set(drivername="postgresql").render_as_string(False), n_rows, T0)
    how = "bulk executemany" if sqlite else "COPY"
    record(f"generate {n_rows:,} rows ({how})", f"{time.perf_counter() - t:.1f} s")
    db = Database(url)
    t = time.perf_counter()
    upgrade(db.engine)
    record("  migrate 0001 -> head (index + hourly summary backfill)", f"{time.perf_counter() - t:.1f} s")
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    db.dispose()


def direct_rate(db: Database, since: datetime, until: datetime) -> None:
    """The aggregation the route ran before the summaries: GROUP BY hour, line over the inspections."""
    t = InspectionRow
    b = bucket_expr(t.ts, db.engine.dialect.name, 3600).label("b")
    stmt = (
        select(b, t.line_id, func.count(), func.sum(case((t.verdict == "FAIL", 1), else_=0)))
        .where(t.ts >= since, t.ts < until, t.shadow.is_(False))
        .group_by(b, t.line_id)
    )
    with db.session() as s:
        assert s.execute(stmt).all()


def bench_queries(
    url: str, frames_dir: Path, n_rows: int, samples: int, record: Record, *, freeze_heap: bool = True
) -> None:
    """The query cases on the database at ``url`` (a SQLite or PostgreSQL SQLAlchemy URL)."""
    prepare(url, n_rows, record)
    settings = ApiSettings(database_url=url, frames_dir=frames_dir, run_sink=False, environment="local")
    db = Database(settings.database_url)
    upgrade(db.engine)
    token = create_token(
        db, f"bench-{random.randrange(10**9)}", Role.SUPERVISOR, settings.token_pepper.get_secret_value()
    )
    rng = random.Random(2)
    span_days = 30

    def day(d: int, extra: timedelta = timedelta()) -> str:
        return (T0 + timedelta(days=d) + extra).isoformat()

    with TestClient(create_app(settings, run_sink=False)) as client:
        if freeze_heap:  # as `factoryloop api serve` does once the app is built
            freeze_startup_heap()
        h = {"Authorization": f"Bearer {token}"}

        def get(url: str, **params: Any) -> Any:
            r = client.get(url, headers=h, params=params)
            assert r.status_code == 200, r.text
            return r.json()

        def defects() -> None:
            d = rng.randrange(span_days - 1)
            page = get(
                "/api/v1/inspections",
                verdict="FAIL",
                line_id=rng.choice(LINES),
                limit=50,
                since=day(d),
                until=day(d + 1),
            )
            assert page["items"]

        def deep_page() -> None:
            cursor = encode_cursor(T0 + timedelta(days=rng.uniform(1, span_days - 1)), 2**62)
            assert (
                len(get("/api/v1/inspections", line_id=rng.choice(LINES), limit=50, cursor=cursor)["items"])
                == 50
            )

        def two_pages() -> None:
            first = get("/api/v1/inspections", limit=200, line_id="line-1")
            assert (
                len(
                    get("/api/v1/inspections", limit=200, line_id="line-1", cursor=first["next_cursor"])[
                        "items"
                    ]
                )
                == 200
            )

        def rate(offset: timedelta) -> Callable[[], None]:
            def run() -> None:
                d = rng.randrange(span_days - 7)
                points = get(
                    "/api/v1/stats/defect-rate", bucket="hour", since=day(d, offset), until=day(d + 7, offset)
                )
                assert points["points"]

            return run

        def classes() -> None:
            d = rng.randrange(span_days - 7)
            assert get("/api/v1/stats/classes", bucket="day", since=day(d), until=day(d + 7))["points"]

        cases: list[tuple[str, Callable[[], None], int]] = [
            ("FAIL on one line, one day, 50 newest", defects, samples),
            (
                "latest 50 FAIL (all lines)",
                lambda: get("/api/v1/inspections", verdict="FAIL", limit=50),
                samples,
            ),
            (
                "by class, 50 newest",
                lambda: get("/api/v1/inspections", class_name=rng.choice(CLASSES), limit=50),
                samples,
            ),
            (
                "by class on one line, 50 newest",
                lambda: get(
                    "/api/v1/inspections", class_name=rng.choice(CLASSES), line_id=rng.choice(LINES), limit=50
                ),
                samples,
            ),
            ("2 pages of 200 via cursor", two_pages, samples // 2),
            ("a page of 50 from a cursor mid-history", deep_page, samples),
            ("defect rate per hour over 7 days, whole hours", rate(timedelta()), samples // 2),
            (
                "defect rate per hour over 7 days, edges off the hour",
                rate(timedelta(minutes=17, seconds=3)),
                samples // 2,
            ),
            ("class counts per day over 7 days", classes, samples // 2),
            (
                "first-seen per class and line (all history)",
                lambda: get("/api/v1/stats/first-seen"),
                samples // 2,
            ),
        ]
        for name, fn, n in cases:
            fn()
            p50, p99 = timed(fn, n)
            record(
                f"query at {n_rows:,} rows: {name}",
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
                f"{n} requests via HTTP",
            )
        p50, p99 = timed(lambda: client.get("/api/v1/health"), samples)
        record("  baseline: GET /health (no auth, no query)", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms")

    def direct() -> None:
        d = rng.randrange(span_days - 7)
        direct_rate(db, T0 + timedelta(days=d), T0 + timedelta(days=d + 7))

    p50, p99 = timed(direct, max(10, samples // 10))
    record(
        "  baseline: GROUP BY hour over the inspections, 7 days (the route before the summaries; SQL only)",
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
    )
    db.dispose()
