"""Pairing the champion's and the shadow's outcome of one frame, and counting how they differ."""

from __future__ import annotations

from typing import Any

import pytest

from factoryloop.schemas import Outcome, Verdict
from tests.support.events import detection, outcome
from training.rollout.shadow_join import ShadowJoin, ShadowTally

P, F, U = Verdict.PASS, Verdict.FAIL, Verdict.UNCERTAIN


def judged(frame: str, verdict: Verdict, *classes: str, agent: str = "agent-1", **kw: Any) -> Outcome:
    dets = tuple(detection(class_name=c) for c in classes)
    return outcome(agent_id=agent, frame_id=frame, verdict=verdict, detections=dets, **kw)


@pytest.mark.parametrize("shadow_first", [False, True])
def test_the_two_outcomes_of_a_frame_pair_in_either_order(shadow_first: bool) -> None:
    join = ShadowJoin()
    champion, challenger = judged("f1", F, "dent"), judged("f1", P)
    first, second = (challenger, champion) if shadow_first else (champion, challenger)
    assert join.add(first, shadow=shadow_first) is None and join.pending == 1
    compared = join.add(second, shadow=not shadow_first)
    assert compared is not None and join.pending == 0
    assert compared.champion.verdict is F and compared.shadow.verdict is P
    assert compared.champion.classes == {"dent"} and compared.shadow.classes == frozenset()
    assert compared.missed and compared.disagree and not compared.extra


@pytest.mark.parametrize(
    ("second", "pairs"),
    [
        ({"frame": "f2", "agent": "agent-1", "shadow": True}, 0),  # another frame
        ({"frame": "f1", "agent": "agent-2", "shadow": True}, 0),  # the same frame id on another agent
        ({"frame": "f1", "agent": "agent-1", "shadow": False}, 0),  # a second serving half: no shadow yet
        ({"frame": "f1", "agent": "agent-1", "shadow": True}, 1),
    ],
)
def test_only_the_shadow_and_serving_halves_of_one_agents_frame_pair(
    second: dict[str, Any], pairs: int
) -> None:
    join = ShadowJoin()
    join.add(judged("f1", P), shadow=False)
    join.add(judged(second["frame"], P, agent=second["agent"]), shadow=second["shadow"])
    assert join.tally.frames == pairs


def test_a_frame_is_compared_once_even_when_a_record_comes_again() -> None:
    join = ShadowJoin()
    for shadow in (False, True, True, False):
        join.add(judged("f1", F), shadow=shadow)
    assert join.tally.frames == 1 and join.pending == 0


def test_halves_without_a_partner_are_forgotten_oldest_first() -> None:
    join = ShadowJoin(max_pending=3)
    for i in range(5):
        join.add(judged(f"f{i}", P), shadow=False)  # frames the shadow did not sample
    assert join.pending == 3
    assert join.add(judged("f0", P), shadow=True) is None  # its partner is gone: it waits in turn
    assert join.add(judged("f4", P), shadow=True) is not None


@pytest.mark.parametrize(
    ("champion", "shadow", "disagree", "missed", "extra"),
    [
        (P, P, 0, 0, 0),
        (F, F, 0, 0, 0),
        (F, P, 1, 1, 0),  # the challenger would let pass what the champion rejects
        (P, F, 1, 0, 1),  # the challenger rejects what the champion passes (a new class?)
        (F, U, 1, 1, 0),  # UNCERTAIN is not rejected by the line
        (U, F, 1, 0, 1),
        (P, U, 1, 0, 0),  # differ, but neither rejects
        (U, U, 0, 0, 0),
    ],
)
def test_directions_are_about_the_reject(
    champion: Verdict, shadow: Verdict, disagree: int, missed: int, extra: int
) -> None:
    join = ShadowJoin()
    join.add(judged("f1", champion), shadow=False)
    join.add(judged("f1", shadow), shadow=True)
    t = join.tally
    assert (t.frames, t.disagree, t.missed, t.extra) == (1, disagree, missed, extra)
    assert t.champion_fails == (champion is F)


def pairs(*verdicts: tuple[Verdict, Verdict]) -> ShadowTally:
    join = ShadowJoin()
    for i, (champion, shadow) in enumerate(verdicts):
        join.add(judged(f"f{i}", champion), shadow=False)
        join.add(judged(f"f{i}", shadow), shadow=True)
    return join.tally


@pytest.mark.parametrize(
    ("verdicts", "disagreement", "missed_rate"),
    [
        ([], 0.0, 0.0),
        ([(P, P)] * 8 + [(P, F)] * 2, 0.2, 0.0),  # extra rejects: disagreement only
        ([(F, F)] * 3 + [(F, P)] + [(P, P)] * 6, 0.1, 0.25),  # one of the champion's 4 FAILs let pass
        ([(F, P)] * 5, 1.0, 1.0),
        ([(P, P)] * 5, 0.0, 0.0),  # the champion failed nothing: nothing to miss
    ],
)
def test_rates(verdicts: list[tuple[Verdict, Verdict]], disagreement: float, missed_rate: float) -> None:
    t = pairs(*verdicts)
    assert t.disagreement == disagreement and t.missed_rate == missed_rate


def test_classes_each_model_found_alone_are_counted_per_class() -> None:
    join = ShadowJoin()
    for i, (champion, shadow) in enumerate(
        [(("dent",), ("dent", "crack")), ((), ("crack",)), (("dent",), ())]
    ):
        join.add(judged(f"f{i}", F if champion else P, *champion), shadow=False)
        join.add(judged(f"f{i}", F if shadow else P, *shadow), shadow=True)
    ev = join.tally.evidence()
    assert ev["shadow_only_class.crack"] == 2 and ev["champion_only_class.dent"] == 1
    assert ev["shadow_class_disagreement"] == 1.0 and ev["shadow_frames"] == 3
    assert ev["shadow_fail_champion_pass"] == 1 and ev["shadow_pass_champion_fail"] == 1
    assert ev["champion_fail_frames"] == 2 and ev["shadow_missed_rate"] == 0.5
