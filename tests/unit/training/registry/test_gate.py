"""The gate's rule: beat the champion by the margin, and no class's recall may drop beyond the limit."""

from __future__ import annotations

import pytest

from training.registry import GatePolicy, decide
from training.yolo.evaluate import EvalResult
from training.yolo.train import ClassMetrics


def _eval(score: float, **recalls: float) -> EvalResult:
    per_class = {name: ClassMetrics(0.5, r, 0.5, 0.3) for name, r in recalls.items()}
    return EvalResult({"precision": 0.5, "recall": 0.5, "mAP50": score + 0.2, "mAP50-95": score}, per_class)


POLICY = GatePolicy(margin=0.02, max_recall_drop=0.05)


@pytest.mark.parametrize(
    ("challenger", "champion", "promote", "reason_part"),
    [
        (_eval(0.40, dent=0.8), None, True, "no champion"),
        (_eval(0.0, dent=0.0), None, False, "no champion"),
        (_eval(0.45, dent=0.8, scratch=0.7), _eval(0.40, dent=0.8, scratch=0.7), True, "beats"),
        (_eval(0.41, dent=0.8), _eval(0.40, dent=0.8), False, "does not beat"),
        (_eval(0.30, dent=0.9), _eval(0.40, dent=0.8), False, "does not beat"),
        (_eval(0.50, dent=0.9, scratch=0.5), _eval(0.40, dent=0.8, scratch=0.7), False, "scratch -0.200"),
        (_eval(0.50, dent=0.9), _eval(0.40, dent=0.8, crack=0.6), False, "crack -0.600"),  # class vanished
        (_eval(0.50, dent=0.76), _eval(0.40, dent=0.8), True, "beats"),  # a drop within the limit
    ],
)
def test_decide(challenger: EvalResult, champion: EvalResult | None, promote: bool, reason_part: str) -> None:
    decision = decide(challenger, champion, POLICY)
    assert decision.promote is promote
    assert reason_part in decision.reason
    tags = decision.as_tags()
    assert tags["gate.decision"] == ("promote" if promote else "refuse")
    assert tags["gate.challenger.mAP50-95"] == f"{challenger.metrics['mAP50-95']:.4f}"


@pytest.mark.parametrize(
    ("golden", "recent", "promote", "reason_part"),
    [
        # a new class shows on recent data; the golden set holds steady: promote
        ((0.40, 0.40), (0.55, 0.20), True, "recent mAP50-95 0.5500 vs 0.2000"),
        # no gain on recent data: refuse, whatever the golden set says
        ((0.60, 0.40), (0.21, 0.20), False, "on recent reviewed data"),
        # recent gain paid for with a golden-set regression beyond the tolerance: refuse
        ((0.30, 0.40), (0.55, 0.20), False, "on the golden set"),
        # golden within the tolerance: promote
        ((0.39, 0.40), (0.55, 0.20), True, "recent"),
    ],
)
def test_decide_with_recent_reviewed_data(
    golden: tuple[float, float], recent: tuple[float, float], promote: bool, reason_part: str
) -> None:
    decision = decide(
        _eval(golden[0], dent=0.8),
        _eval(golden[1], dent=0.8),
        POLICY,
        challenger_recent=_eval(recent[0], crack=0.7),
        champion_recent=_eval(recent[1], crack=0.0),
    )
    assert decision.promote is promote
    assert reason_part in decision.reason
    assert "gate.recent.challenger.recall.crack" in decision.as_tags()


def test_recent_gain_does_not_excuse_a_golden_recall_drop() -> None:
    decision = decide(
        _eval(0.40, dent=0.5),
        _eval(0.40, dent=0.8),
        POLICY,
        challenger_recent=_eval(0.60),
        champion_recent=_eval(0.20),
    )
    assert not decision.promote
    assert "dent -0.300" in decision.reason
