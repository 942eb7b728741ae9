"""Several processes migrating one empty database at once (the API and its sinks starting together on a site):
each succeeds, one migrates and the others wait and find the schema up to date; on SQLite and PostgreSQL.
A migration held by a stuck process is reported after the timeout, naming what holds it."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from api.db.migrate import migration_lock
from api.errors import MigrationError

PROCESSES = 4
REPO = Path(__file__).resolve().parents[3]
MIGRATE = """
import sys, time
from api.db.engine import make_engine
from api.db.migrate import upgrade
engine = make_engine(sys.argv[1])
while time.time() < float(sys.argv[2]):  # every process starts its migration at the same moment
    time.sleep(0.01)
upgrade(engine)
"""


def _head(url: str) -> tuple[str | None, set[str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return version, set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_processes_migrating_at_once_all_succeed(db_url: str) -> None:
    start_at = time.time() + 8.0  # after every interpreter has imported alembic and the models
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, db_url, str(start_at)],
            cwd=REPO,
            env=os.environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]

    assert [p.returncode for p in procs] == [0] * PROCESSES, "\n---\n".join(outputs)
    version, tables = _head(db_url)
    assert version is not None and {"inspections", "detections", "alembic_version"} <= tables


def test_a_held_lock_is_reported_after_the_timeout(tmp_path: Path) -> None:
    db = tmp_path / "api.db"
    engine = create_engine(f"sqlite:///{db}")
    with open(f"{db}.migrate-lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process, stuck in its migration
        said = r"another process has been migrating .* for more than 1 s"
        with pytest.raises(MigrationError, match=said), migration_lock(engine, timeout_s=1.0):
            pass
    with migration_lock(engine, timeout_s=1.0):  # released: taken at once
        pass
