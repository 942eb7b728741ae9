"""Retention benchmark: how long ``factoryloop api prune`` keeps the sink waiting, against the baseline of one
big ``DELETE`` of the same rows, measured in the same run on copies of the same SQLite database.

N outcomes (half of them older than the outcomes' retention) are written through the sink's writer; then, on
each copy, a writer thread stores a heartbeat every 20 ms (the sink's transaction) while the old outcomes go,
either in one transaction (baseline) or through ``run_retention`` (batches of ``--batch`` rows).
Printed: the time each took, the rows per second, and the writer's longest and p99 wait.

Run: ``python bench/bench_retention.py [--outcomes 200000] [--batch 2000]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api_data import make_outcomes
from sqlalchemy import text

from api.db.engine import Database
from api.db.migrate import upgrade
from api.frames.store import LocalFrameStore
from api.retention import Kind, RetentionPolicy, run_retention
from api.sink.writer import SinkWriter
from factoryloop.schemas import CameraHealth, Heartbeat

NOW = datetime.now(UTC)
DAYS = 90


def build(path: Path, n: int) -> None:
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    writer = SinkWriter(db.engine, LocalFrameStore(path.parent / "frames"))
    t0 = NOW - timedelta(days=2 * DAYS)  # spread over 180 days: half older than the 90 days' retention
    events = make_outcomes(n, t0, step_s=2 * DAYS * 86400 / n)
    for i in range(0, n, 5000):
        writer.write(events[i : i + 5000])
    db.dispose()


def with_writer(path: Path, work: Callable[[Database], int]) -> tuple[float, int, list[float]]:
    """Run ``work`` while a thread stores a heartbeat every 20 ms; the work's time, rows, writer waits."""
    db = Database(f"sqlite:///{path}")
    writer = SinkWriter(db.engine, LocalFrameStore(path.parent / "frames"))
    stop, waits = threading.Event(), []

    def beat() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            hb = Heartbeat(
                line_id="l",
                station_id="s",
                agent_id="a",
                uptime_s=1,
                fps=1,
                camera=CameraHealth(connected=True),
            )
            writer.write([hb])
            waits.append(time.perf_counter() - t)
            time.sleep(0.02)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    time.sleep(0.5)
    waits.clear()
    t = time.perf_counter()
    rows = work(db)
    took = time.perf_counter() - t
    stop.set()
    thread.join()
    db.dispose()
    return took, rows, waits


def one_delete(db: Database) -> int:
    cutoff = (NOW - timedelta(days=DAYS)).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.execute(text("DELETE FROM detections WHERE ts < :c"), {"c": str(cutoff)})
        return conn.execute(text("DELETE FROM inspections WHERE ts < :c"), {"c": str(cutoff)}).rowcount


def batched(batch: int) -> Callable[[Database], int]:
    def run(db: Database) -> int:
        policy = RetentionPolicy({Kind.OUTCOMES: DAYS, Kind.REVIEW_QUEUE: 14}, batch_size=batch)
        figures = run_retention(
            db,
            LocalFrameStore(Path(tempfile.gettempdir())),
            policy,
            dry_run=False,
            now=NOW,
            kinds={Kind.OUTCOMES},
        )
        return figures[0].rows

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outcomes", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fl-bench-retention-") as tmp:
        source = Path(tmp) / "source.db"
        t = time.perf_counter()
        build(source, args.outcomes)
        print(f"built {args.outcomes:,} outcomes in {time.perf_counter() - t:.0f} s", flush=True)
        results = {}
        for name, work in (
            ("one DELETE (baseline)", one_delete),
            (f"api prune, {args.batch}/batch", batched(args.batch)),
        ):
            copy = Path(tmp) / f"{len(results)}" / "api.db"
            copy.parent.mkdir()
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{source}{suffix}").exists():
                    shutil.copy(f"{source}{suffix}", f"{copy}{suffix}")
            results[name] = with_writer(copy, work)
            took, rows, waits = results[name]
            print(f"{name}: {rows:,} rows in {took:.1f} s", flush=True)
    base = results["one DELETE (baseline)"]
    print("\n| run | rows | time | rows/s | writer's longest wait | writer p99 | writes during |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, (took, rows, waits) in results.items():
        p99 = statistics.quantiles(waits, n=100)[98] if len(waits) >= 100 else max(waits, default=0.0)
        print(
            f"| {name} | {rows:,} | {took:.1f} s | {rows / took:,.0f} "
            f"| {max(waits, default=0) * 1000:,.0f} ms | {p99 * 1000:,.0f} ms | {len(waits)} |"
        )
    (bt, _, bw), (pt, _, pw) = base, list(results.values())[1]
    print(
        f"\nratios (prune / baseline): time {pt / bt:.2f}x, writer's longest wait "
        f"{max(pw, default=0) / max(max(bw, default=0), 1e-9):.3f}x"
    )


if __name__ == "__main__":
    main()
