"""Rules -> verdicts, and the sampling policy."""

from __future__ import annotations

import pytest

from edge_agent.config import ClassRule, RulesConfig, SamplingConfig
from edge_agent.decide.rules import Decision, RuleSet
from edge_agent.publish.sampling import Sampler
from factoryloop.schemas import Box, Detection, Verdict

RULES = RulesConfig(
    default=ClassRule(confidence=0.5, uncertain=0.3),
    classes={
        "stain": ClassRule(confidence=0.5, fail=False),
        "dent": ClassRule(confidence=0.6, min_box_area=100),
        "scratch": ClassRule(confidence=0.5, uncertain=0.3, roi=(0.0, 0.0, 0.5, 1.0)),
    },
)


def det(name: str, conf: float, x: float = 10, size: float = 20) -> Detection:
    return Detection(
        class_id=0, class_name=name, confidence=conf, box=Box(x1=x, y1=10, x2=x + size, y2=10 + size)
    )


@pytest.mark.parametrize(
    ("dets", "verdict", "kept"),
    [
        ((), Verdict.PASS, 0),
        ((det("crack", 0.2),), Verdict.PASS, 0),  # below the uncertain band
        ((det("crack", 0.4),), Verdict.UNCERTAIN, 1),
        ((det("crack", 0.5),), Verdict.FAIL, 1),
        ((det("stain", 0.99),), Verdict.PASS, 1),  # cosmetic: recorded, never fails
        ((det("dent", 0.9, size=5),), Verdict.PASS, 0),  # box too small
        ((det("dent", 0.55),), Verdict.PASS, 0),  # no uncertain band for dent
        ((det("scratch", 0.9, x=150),), Verdict.PASS, 0),  # outside its ROI (right half of a 200 px frame)
        ((det("scratch", 0.9, x=10),), Verdict.FAIL, 1),
        ((det("crack", 0.4), det("dent", 0.7)), Verdict.FAIL, 2),
    ],
)
def test_verdicts(dets: tuple[Detection, ...], verdict: Verdict, kept: int) -> None:
    decision = RuleSet(RULES).decide(dets, 200, 200)
    assert decision.verdict is verdict
    assert len(decision.detections) == kept


def test_thresholds_reported_per_class() -> None:
    assert RuleSet(RULES).thresholds(("dent", "crack")) == {"dent": 0.6, "crack": 0.5}


def test_sampling_policy() -> None:
    sampler = Sampler(SamplingConfig(pass_rate=0.25, rare_class_min_count=2, seed=1))
    fail = Decision(Verdict.FAIL, (det("crack", 0.9),), ("crack",))
    unc = Decision(Verdict.UNCERTAIN, (det("crack", 0.4),), ("crack",))
    cosmetic = Decision(Verdict.PASS, (det("stain", 0.9),), ())
    assert sampler.reason(fail) == "fail"
    assert sampler.reason(unc) == "uncertain"
    assert [sampler.reason(cosmetic) for _ in range(3)][:2] == ["rare_class", "rare_class"]
    passes = [sampler.reason(Decision(Verdict.PASS, (), ())) for _ in range(4000)]
    assert set(passes) == {None, "pass_sample"}
    assert 0.22 < passes.count("pass_sample") / 4000 < 0.28
