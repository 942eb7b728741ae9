"""The review priority (api.services.priority): each component, the weighted sum, the recency rank and the
reasons. The sink's use of it runs in tests/integration/api/test_review_priority.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.services import priority as pr

T = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("confidence", "threshold", "expected"),
    [
        (0.5, 0.5, 1.0),  # at the threshold: most uncertain
        (0.48, 0.5, 0.96),
        (0.25, 0.5, 0.5),
        (0.0, 0.5, 0.0),
        (1.0, 0.5, 0.0),
        (0.95, 0.5, 0.1),
        (0.7, 0.7, 1.0),
        (0.85, 0.7, 0.5),  # halfway from the threshold to 1
        (0.35, 0.7, 0.5),  # halfway from the threshold to 0
        (0.3, 1.0, 0.3),
        (0.2, 0.0, 0.8),
    ],
)
def test_detection_uncertainty_is_one_at_the_threshold_and_zero_at_the_ends(
    confidence: float, threshold: float, expected: float
) -> None:
    assert pr.detection_uncertainty(confidence, threshold) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("verdict", "detections", "thresholds", "score", "reason"),
    [
        ("PASS", [], {}, 0.0, None),
        ("FAIL", [("scratch", 0.97)], {"scratch": 0.5}, 0.06, None),
        (
            "FAIL",
            [("scratch", 0.97), ("dent", 0.52)],
            {"scratch": 0.5, "dent": 0.5},
            0.96,
            "uncertain dent 0.52",
        ),
        ("UNCERTAIN", [("pit", 0.48)], {"pit": 0.5}, 0.96, "uncertain pit 0.48"),
        ("UNCERTAIN", [("pit", 0.1)], {"pit": 0.5}, 0.5, "uncertain pit 0.10"),  # the verdict's floor
        ("UNCERTAIN", [], {}, 0.5, "verdict UNCERTAIN"),
        ("FAIL", [("crack", 0.5)], {}, 1.0, "uncertain crack 0.50"),  # no threshold: 0.5
        ("FAIL", [("crack", 0.7)], {"crack": 0.8}, 0.875, "uncertain crack 0.70"),
    ],
)
def test_uncertainty_of_a_frame(
    verdict: str, detections: list, thresholds: dict, score: float, reason: str | None
) -> None:
    u, why = pr.uncertainty(verdict, detections, thresholds)
    assert u == pytest.approx(score) and why == reason


@pytest.mark.parametrize(
    ("counts", "score", "reason"),
    [
        ({}, 0.0, None),
        ({"crack": 0}, 1.0, "new class crack (first in 7 days)"),
        ({"crack": 3}, 10 / 13, "rare class crack (3 in 7 days)"),
        ({"crack": 10}, 0.5, "rare class crack (10 in 7 days)"),
        ({"scratch": 90}, 0.1, None),
        ({"scratch": 900, "crack": 2}, 10 / 12, "rare class crack (2 in 7 days)"),  # the rarest class
    ],
)
def test_rarity_of_the_rarest_class(counts: dict, score: float, reason: str | None) -> None:
    r, why = pr.rarity(counts)
    assert r == pytest.approx(score) and why == reason


@pytest.mark.parametrize(
    ("champion", "shadow", "score", "reason"),
    [
        (("FAIL", ["scratch"]), ("FAIL", ["scratch"]), 0.0, None),
        (("FAIL", ["scratch", "scratch"]), ("FAIL", ["scratch"]), 0.0, None),  # sets, not boxes
        (
            ("FAIL", ["scratch"]),
            ("FAIL", ["crack", "scratch"]),
            1.0,
            "shadow disagrees: model scratch, shadow crack, scratch",
        ),
        (("PASS", []), ("FAIL", ["crack"]), 1.0, "shadow disagrees: model none, shadow crack"),
        (("FAIL", ["scratch"]), ("UNCERTAIN", ["scratch"]), 0.5, "shadow verdict UNCERTAIN vs FAIL"),
    ],
)
def test_disagreement_of_champion_and_shadow(
    champion: tuple, shadow: tuple, score: float, reason: str | None
) -> None:
    assert pr.disagreement(champion, shadow) == (pytest.approx(score), reason)


@pytest.mark.parametrize(
    ("components", "priority", "offered_for"),
    [
        (pr.Components(), 0.0, "sampled"),
        (pr.Components(uncertainty=1.0), 0.40, "uncertain"),
        (pr.Components(rarity=1.0), 0.35, "rare_class"),
        (pr.Components(disagreement=1.0), 0.25, "disagreement"),
        (pr.Components(1.0, 1.0, 1.0), 1.0, "uncertain"),
        (pr.Components(0.5, 1.0, 0.0), 0.55, "rare_class"),
        (pr.Components(0.1, 0.1, 1.0), 0.325, "disagreement"),
    ],
)
def test_priority_is_the_weighted_sum(components: pr.Components, priority: float, offered_for: str) -> None:
    assert components.priority == pytest.approx(priority)
    assert components.offered_for == offered_for


@pytest.mark.parametrize(
    ("older", "newer", "older_first"),
    [
        ((0.40, timedelta(days=1)), (0.0, timedelta(0)), True),  # one day costs 0.02
        ((0.40, timedelta(days=19)), (0.0, timedelta(0)), True),
        ((0.40, timedelta(days=21)), (0.0, timedelta(0)), False),  # 0.42 of recency beats 0.40
        ((0.30, timedelta(hours=1)), (0.30, timedelta(0)), False),  # equal priority: newer first
    ],
)
def test_rank_adds_a_small_recency_term(older: tuple, newer: tuple, older_first: bool) -> None:
    (p_old, age_old), (p_new, age_new) = older, newer
    assert (pr.rank(p_old, T - age_old) > pr.rank(p_new, T - age_new)) is older_first


@pytest.mark.parametrize(
    ("reason", "verdict", "sample_reason", "shown"),
    [
        ("uncertain pit 0.48", "UNCERTAIN", "uncertain", "uncertain pit 0.48"),
        ("", "FAIL", "fail", "sampled (fail)"),
        ("", "UNCERTAIN", None, "verdict UNCERTAIN"),
        (None, "PASS", "pass_sample", "sampled (pass_sample)"),
    ],
)
def test_shown_reason(reason: str | None, verdict: str, sample_reason: str | None, shown: str) -> None:
    assert pr.shown_reason(reason, verdict, sample_reason) == shown


def test_join_reason_keeps_named_parts_within_the_column() -> None:
    assert pr.join_reason(["uncertain pit 0.48", None, "shadow verdict FAIL vs PASS"]) == (
        "uncertain pit 0.48; shadow verdict FAIL vs PASS"
    )
    assert len(pr.join_reason(["x" * 200, "y" * 200])) == pr.REASON_MAX
