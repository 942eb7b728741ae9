"""The API database on PostgreSQL: ``pg_dump -Fc`` while the sink writes, ``pg_restore`` into an empty
database given at restore; a non-empty target database is refused naming its tables unless ``--force``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text

from api.db.engine import Database
from factoryloop.backup import TargetNotEmptyError, create_backup, discover, restore_backup
from factoryloop.backup.postgres import redact
from tests.integration.api.postgres import fresh_database
from tests.integration.ops.home import LIVE_LINE, api_settings, api_view, live_writers, seed_api

pytestmark = pytest.mark.postgres


def _live_ids(url: str) -> list[str]:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            sql = text("SELECT event_id FROM inspections WHERE line_id = :l ORDER BY id")
            return [r[0] for r in conn.execute(sql, {"l": LIVE_LINE})]
    finally:
        db.dispose()


def test_postgres_api_database_round_trip(postgres_url: str, tmp_path: Path) -> None:
    with fresh_database(postgres_url) as source_url, fresh_database(postgres_url) as target_url:
        home = tmp_path / "home"
        settings = api_settings(home, source_url)
        token = seed_api(settings)
        before = api_view(settings, token)
        with live_writers(home, settings) as live:
            while len(live.outcomes) < 10:
                time.sleep(0.05)
            out, manifest = create_backup(tmp_path / "b.tar.gz", discover(home, api_db_url=source_url))
        api_db = manifest.component("api-db")
        assert api_db is not None and api_db.kind == "pg_dump"
        assert api_db.source == redact(source_url) and "pg_dump" in manifest.versions

        restored = tmp_path / "restored"
        restore_backup(out, restored, database_urls={"api-db": target_url})
        r_settings = api_settings(restored, target_url)
        assert api_view(r_settings, token) == before
        ids = _live_ids(target_url)
        assert ids and ids == live.outcomes[: len(ids)]  # one consistent snapshot

        with pytest.raises(TargetNotEmptyError, match=r"not empty \(tables public\.agent_events"):
            restore_backup(out, tmp_path / "again", database_urls={"api-db": target_url})
        assert not (tmp_path / "again").exists()
        restore_backup(out, tmp_path / "again", database_urls={"api-db": target_url}, force=True)
        assert api_view(r_settings, token) == before
