"""``GET /fleet/agents/{id}/history`` on SQLite and PostgreSQL: heartbeats stored by the sink's writer come
back in time buckets, counters turned into what happened in each bucket (across a restart, and from the
heartbeat just before the window), a silent stretch left empty, the models served in order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from api.frames.store import LocalFrameStore
from api.sink.writer import SinkWriter
from factoryloop.schemas import ModelRef
from tests.support.events import heartbeat


def _beats(start: datetime, n: int, version: str, dropped_from: int, uptime_from: float) -> list:
    return [
        heartbeat(
            ts=start + timedelta(seconds=20 * k),
            model=ModelRef(name="plate", version=version),
            uptime_s=uptime_from + 20 * k,
            frames_dropped=dropped_from + k,
            latency_p50_ms=8.0,
            latency_p99_ms=40.0 + k,
            buffer_records=500 if k == 7 else 0,
        )
        for k in range(n)
    ]


def test_an_agents_history_in_buckets(api_factory) -> None:
    api = api_factory()
    ctx = api.client.app.state.ctx
    now = datetime.now(UTC)
    before = _beats(now - timedelta(minutes=70), 1, "1", 90, 0.0)  # outside the hour: the baseline
    first = _beats(now - timedelta(minutes=50), 30, "1", 100, 1200.0)  # 10 min, dropped 100..129
    after_restart = _beats(now - timedelta(minutes=25), 15, "2", 0, 0.0)  # 15 min silent, then 0..14
    SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir)).write(
        [*before, *first, *after_restart]
    )

    got = api.get("/api/v1/fleet/agents/agent-1/history?hours=1").json()
    assert got["bucket_s"] == 60 and got["agent_id"] == "agent-1"
    buckets = got["buckets"]
    starts = [datetime.fromisoformat(b["start"]) for b in buckets]
    assert all(s.timestamp() % 60 == 0 for s in starts) and starts == sorted(starts)
    assert sum(b["heartbeats"] for b in buckets) == 45
    # 129 - 90 before the restart (the baseline's 90 counts), then 0..14 from the restart's 0
    assert sum(b["frames_dropped"] for b in buckets) == 39 + 14
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert max(gaps) >= timedelta(minutes=14)  # the silent stretch has no bucket
    assert (
        max(b["latency_p99_ms"] for b in buckets) == 69.0 and max(b["buffer_records"] for b in buckets) == 500
    )
    assert all(b["latency_p50_ms"] == 8.0 and b["fps"] == 25.0 for b in buckets)
    assert buckets[0]["model_version"] == "1" and buckets[-1]["model_version"] == "2"

    week = api.get("/api/v1/fleet/agents/agent-1/history?hours=168").json()
    assert week["bucket_s"] == 7200 and sum(b["heartbeats"] for b in week["buckets"]) == 46
    assert api.get("/api/v1/fleet/agents/nobody/history").status_code == 404
    assert api.get("/api/v1/fleet/agents/agent-1/history?hours=0").status_code == 422
