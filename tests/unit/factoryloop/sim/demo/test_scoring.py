"""The recall scorer of the closed loop, against the simulator's own truth."""

from __future__ import annotations

import pytest

from factoryloop.schemas import Box, Detection
from factoryloop.sim import Oracle, SimConfig
from factoryloop.sim.demo import RecallScorer
from tests.support.events import outcome


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    return Oracle(SimConfig(), seed=3)


def truth_detections(oracle: Oracle, index: int) -> tuple[Detection, ...]:
    return tuple(
        Detection(
            class_id=b.class_id,
            class_name=b.class_name,
            confidence=0.8,
            box=Box(x1=b.x1, y1=b.y1, x2=b.x2, y2=b.y2),
        )
        for b in oracle.truth(index).boxes
    )


def test_recall_scorer_counts_found_and_missed(oracle: Oracle) -> None:
    defective = [i for i in range(300) if not oracle.truth(i).defect_free][:4]
    scorer = RecallScorer(oracle)
    scorer.add(outcome(source_frame_index=defective[0], detections=truth_detections(oracle, defective[0])))
    scorer.add(outcome(source_frame_index=defective[1], detections=()))
    scorer.add(outcome(source_frame_index=defective[2], detections=(), shadow=True))  # shadow: not counted
    total = sum(len(oracle.truth(i).boxes) for i in defective[:2])
    found = len(oracle.truth(defective[0]).boxes)
    assert sum(s.total for s in scorer.per_class.values()) == total
    assert sum(s.found for s in scorer.per_class.values()) == found
    assert scorer.scored == 2
