"""The retention's selection logic without a database: cutoffs per kind, the rollout stories that may go, and
the figures' rendering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.retention.policy import Cutoffs, Kind, RetentionPolicy
from api.retention.rollouts import RolloutFact, prunable_rollouts
from api.settings import ApiSettings
from factoryloop.retention import KindFigures, cutoff_of, human_bytes, retention_days, summary_line

NOW = datetime(2026, 6, 1, 12, 30, 15, tzinfo=UTC)
CUT = NOW - timedelta(days=100)


def old(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.mark.parametrize(
    ("kind", "days", "want"),
    [
        (Kind.FRAMES, 30, NOW - timedelta(days=30)),
        (Kind.FRAMES, 0, None),  # 0: forever
        (Kind.FRAMES, None, None),  # unset: forever
        (Kind.OUTCOMES, 90, datetime(2026, 3, 3, 12, 0, tzinfo=UTC)),  # floored to the hour: summaries
        (Kind.HEARTBEATS, 1, NOW - timedelta(days=1)),
    ],
)
def test_cutoff_of_a_kind(kind: Kind, days: int | None, want: datetime | None) -> None:
    assert Cutoffs(now=NOW, days={kind: days}).of(kind) == want
    assert Cutoffs(now=NOW, days={kind: days}).retention(kind) == (days or None)


def test_policy_reads_one_setting_per_kind() -> None:
    settings = ApiSettings(retention_frames_days=7, retention_reviews_days=0, retention_batch_size=10)
    policy = RetentionPolicy.from_settings(settings)
    assert set(policy.days) == set(Kind) and policy.batch_size == 10
    c = policy.cutoffs(NOW)
    assert c.of(Kind.FRAMES) == NOW - timedelta(days=7)
    assert c.of(Kind.REVIEWS) is None and c.of(Kind.ROLLOUTS) is None  # forever by default
    with pytest.raises(ValueError, match="naive"):
        policy.cutoffs(NOW.replace(tzinfo=None))


def test_defaults_a_plant_would_accept() -> None:
    """What a site gets without setting anything (docs/operations.md "Retention")."""
    days = RetentionPolicy.from_settings(ApiSettings()).days
    assert {k: retention_days(v) for k, v in days.items()} == {
        Kind.REVIEW_QUEUE: 14,
        Kind.REVIEWS: None,
        Kind.OUTCOMES: 90,
        Kind.FRAMES: 30,
        Kind.HEARTBEATS: 30,
        Kind.AGENT_EVENTS: 365,
        Kind.ALERTS: 365,
        Kind.ROLLOUTS: None,
    }


def req(i: int, days: float, story: str) -> RolloutFact:
    return RolloutFact(i, old(days), "rollout_request", "requested", None, f"req-{story}")


def ev(i: int, days: float, story: str, state: str, *, request: bool = True) -> RolloutFact:
    return RolloutFact(
        i, old(days), "rollout_event", state, f"ro-{story}", f"req-{story}" if request else None
    )


@pytest.mark.parametrize(
    ("rows", "gone", "kept"),
    [
        pytest.param(
            [req(1, 200, "a"), ev(2, 199, "a", "canary"), ev(3, 198, "a", "full")], [1, 2, 3], 0, id="ended"
        ),
        pytest.param([req(1, 200, "a"), ev(2, 199, "a", "canary")], [], 2, id="in-flight"),
        pytest.param([req(1, 200, "a")], [], 1, id="unanswered-request"),
        pytest.param([ev(1, 200, "a", "canary"), ev(2, 50, "a", "rolled_back")], [], 1, id="ended-lately"),
        pytest.param(
            [ev(1, 200, "a", "canary", request=False), ev(2, 199, "a", "halted", request=False)],
            [1, 2],
            0,
            id="rollout-without-request",
        ),
        pytest.param(  # the request links to the rollout through an event carrying both ids
            [req(1, 300, "a"), ev(2, 299, "a", "canary"), ev(3, 298, "a", "refused", request=False)],
            [1, 2, 3],
            0,
            id="linked-by-ids",
        ),
        pytest.param(
            [ev(1, 200, "a", "full"), ev(2, 200, "b", "canary"), ev(3, 10, "c", "full")],
            [1],
            1,
            id="stories-apart",
        ),
        pytest.param(
            [
                RolloutFact(1, old(200), "rollout_event", "full"),
                RolloutFact(2, old(20), "rollout_event", "full"),
            ],
            [1],
            0,
            id="rows-without-ids",
        ),
    ],
)
def test_prunable_rollouts(rows: list[RolloutFact], gone: list[int], kept: int) -> None:
    assert prunable_rollouts(rows, CUT) == (gone, kept)


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")]
)
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text


def test_cutoff_of_and_summary() -> None:
    assert cutoff_of(0, NOW) is None and cutoff_of(2, NOW) == NOW - timedelta(days=2)
    figures = [
        KindFigures("frames", 30, NOW, rows=3, bytes=2048),
        KindFigures("outcomes", 90, NOW, rows=5, bytes=1024, bytes_exact=False),
        KindFigures("reviews", None, None),
    ]
    assert (
        summary_line(figures, dry_run=True) == "would delete 8 records, ~3.0 KiB (dry run: nothing changed)"
    )
    assert summary_line(figures[:1], dry_run=False) == "deleted 3 records, 2.0 KiB"
