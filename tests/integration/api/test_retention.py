"""``factoryloop api prune`` on SQLite and PostgreSQL: each kind goes after its retention, nothing a queued or
kept review still needs goes, a dry run reports what the real run then deletes and changes nothing, the hourly
summaries (the dashboard's history) keep their counts, and a second run finds nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.db.models import AlertRow, InspectionRow, ReviewRow
from api.retention import Cutoffs, Kind, RetentionPolicy, run_retention
from api.retention.kinds import pruners
from api.services.review_queue import review_queue
from api.services.stats import Window, defect_rate
from api.services.timerange import Bucket
from api.settings import ApiSettings, get_settings
from tests.integration.api.helpers import summaries
from tests.integration.api.retention_site import NOW, ago, retention_site
from tests.support.events import label

DEFAULTS = RetentionPolicy.from_settings(ApiSettings()).days
ALL_OUTCOMES = {"plain_old", "queued_old", "reviewed_old", "queued_mid", "shared_old", "shared_new", "recent"}
ALL_FRAMES = {"plain_old", "queued_old", "reviewed_old", "queued_mid", "shared", "recent"}


@pytest.mark.parametrize(
    ("overrides", "outcomes_kept", "frames_kept", "queued"),
    [
        pytest.param(  # the defaults: 90 d outcomes, 30 d frames, 14 d queue, reviews forever
            {},
            {"reviewed_old", "queued_mid", "shared_old", "shared_new", "recent"},
            {"reviewed_old", "shared", "recent"},
            {"recent"},
            id="defaults",
        ),
        pytest.param(  # the queue kept forever: what is queued keeps its outcome and frame
            {Kind.REVIEW_QUEUE: 0},
            {"queued_old", "reviewed_old", "queued_mid", "shared_old", "shared_new", "recent"},
            {"queued_old", "reviewed_old", "queued_mid", "shared", "recent"},
            {"queued_old", "queued_mid", "recent"},
            id="queue-forever",
        ),
        pytest.param(  # reviews pruned after 50 d: the 100 d old review goes, and with it what it kept
            {Kind.REVIEWS: 50},
            {"queued_mid", "shared_old", "shared_new", "recent"},
            {"shared", "recent"},
            {"recent"},
            id="reviews-50d",
        ),
    ],
)
def test_prune_keeps_what_is_needed_and_reports_what_it_deletes(
    db_url: str,
    tmp_path: Path,
    overrides: dict[Kind, int],
    outcomes_kept: set[str],
    frames_kept: set[str],
    queued: set[str],
) -> None:
    policy = RetentionPolicy({**DEFAULTS, **overrides, Kind.ROLLOUTS: 365}, batch_size=2)  # several batches
    with retention_site(db_url, tmp_path) as site:
        before, files_before = site.counts(), site.stored_frames()
        hourly_before = summaries(site.db)
        week = Window(since=ago(125).replace(minute=0), until=NOW.replace(minute=0))
        with site.db.session() as s:
            rate_before = defect_rate(s, week, Bucket.DAY, True, 8, 6)

        dry = run_retention(site.db, site.frames, policy, dry_run=True, now=NOW)
        assert site.counts() == before and site.stored_frames() == files_before  # nothing changed

        real = run_retention(site.db, site.frames, policy, dry_run=False, now=NOW)
        assert [(f.kind, f.rows, f.bytes, f.kept) for f in real] == [
            (f.kind, f.rows, f.bytes, f.kept) for f in dry
        ]

        assert site.outcome_names() == outcomes_kept
        stored = site.stored_frames()
        assert set(stored) == frames_kept
        assert all(stored[n] == site.jpegs[n] for n in stored)  # what stays is byte-identical
        gone_frames = ALL_FRAMES - frames_kept
        by_kind = {f.kind: f for f in real}
        assert by_kind["frames"].rows == len(gone_frames)
        assert by_kind["frames"].bytes == sum(len(site.jpegs[n]) for n in gone_frames)
        # outcomes: the gone ones plus the old shadow outcome
        assert by_kind["outcomes"].rows == len(ALL_OUTCOMES - outcomes_kept) + 1
        after = site.counts()
        assert before["inspections"] - after["inspections"] == by_kind["outcomes"].rows
        assert after["detections"] == after["inspections"]  # each outcome had one box: none orphaned
        assert (
            before["heartbeats"] - after["heartbeats"],
            before["agent_events"] - after["agent_events"],
        ) == (1, 1)
        with site.db.session() as s:
            alerts = set(s.scalars(select(AlertRow.rule)))
            listed = {r.event_id for r in review_queue(s, None, 50)}
            rate_after = defect_rate(s, week, Bucket.DAY, True, 8, 6)
        assert alerts == {"old_open", "resolved_lately"}
        assert after["alert_deliveries"] == 2  # the pruned alert's delivery went with it
        assert after["rollouts"] == before["rollouts"] - 3  # the ended story; the stuck and late one stay
        # every queued item still has its inspection and its frame: the review page lists them all
        assert listed == {site.outcomes[n].event_id for n in queued}
        assert queued <= outcomes_kept
        # the hourly summaries (the dashboard's history) keep every count; whole hours read the same
        assert summaries(site.db) == hourly_before
        assert rate_after == rate_before

        again = run_retention(site.db, site.frames, policy, dry_run=False, now=NOW)
        assert sum(f.rows for f in again) == 0 and site.counts() == after


def test_a_row_needed_between_select_and_delete_stays(db_url: str, tmp_path: Path) -> None:
    """The DELETE repeats the condition: a review stored after the batch was selected keeps its outcome."""
    policy = RetentionPolicy(DEFAULTS)
    c = policy.cutoffs(NOW)
    (outcomes,) = [p for p in pruners() if p.kind is Kind.OUTCOMES]
    with retention_site(db_url, tmp_path) as site:
        with site.db.engine.connect() as conn:
            selected = outcomes.select(conn, c, None, 100)
        assert set(selected.keys) >= {_id(site, "plain_old"), _id(site, "queued_old")}
        o = site.outcomes["plain_old"]
        site.writer.write([label(ts=NOW, outcome_event_id=o.event_id, frame_sha256=o.frame_sha256)])
        with site.db.engine.begin() as conn:
            deleted = outcomes.delete(conn, c, selected.keys)
        assert deleted.rows == len(selected.keys) - 1
        assert "plain_old" in site.outcome_names() and "queued_old" not in site.outcome_names()
        with site.db.session() as s:
            assert s.scalar(select(ReviewRow.id).where(ReviewRow.outcome_event_id == o.event_id))


def _id(site, name: str) -> int:  # type: ignore[no-untyped-def]
    with site.db.session() as s:
        return int(
            s.scalar(select(InspectionRow.id).where(InspectionRow.event_id == site.outcomes[name].event_id))
        )


def test_cutoffs_of_the_outcomes_fall_on_whole_hours() -> None:
    c = Cutoffs(now=NOW, days={Kind.OUTCOMES: 90, Kind.FRAMES: 30, Kind.REVIEWS: 0})
    assert c.of(Kind.OUTCOMES) == (NOW - timedelta(days=90)).replace(minute=0)
    assert c.of(Kind.FRAMES) == NOW - timedelta(days=30)
    assert c.of(Kind.REVIEWS) is None and c.of(Kind.ROLLOUTS) is None


def test_cli_dry_run_then_prune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``factoryloop api prune --dry-run`` prints the figures and changes nothing; without it, deletes."""
    from api.cli import app

    url = f"sqlite:///{tmp_path / 'api.db'}"
    with retention_site(url, tmp_path) as site:
        # the data is dated before NOW, which is in the past: with 1 day every unneeded outcome is old
        monkeypatch.setenv("FACTORYLOOP_API_DATABASE_URL", url)
        monkeypatch.setenv("FACTORYLOOP_API_FRAMES_DIR", str(tmp_path / "frames"))
        monkeypatch.setenv("FACTORYLOOP_API_RETENTION_OUTCOMES_DAYS", "1")
        get_settings.cache_clear()
        try:
            before = site.counts()
            dry = CliRunner().invoke(app, ["prune", "--dry-run", "--kind", "outcomes", "--kind", "frames"])
            assert dry.exit_code == 0, dry.output
            assert "to delete" in dry.output and "outcomes" in dry.output and "heartbeats" not in dry.output
            assert site.counts() == before
            real = CliRunner().invoke(app, ["prune", "--kind", "outcomes"])
            assert real.exit_code == 0, real.output
            assert "deleted" in real.output
            assert site.counts()["inspections"] < before["inspections"]
            bad = CliRunner().invoke(app, ["prune", "--kind", "everything"])
            assert bad.exit_code != 0 and "unknown kind" in bad.output
        finally:
            get_settings.cache_clear()
