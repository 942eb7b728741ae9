"""The simulated supervisor's reviews and the recall scorer, against the simulator's own truth."""

from __future__ import annotations

import hashlib

import pytest

from factoryloop.schemas import Box, Detection, FrameMeta, FramePayload, ReviewAction, utc_now
from factoryloop.sim import Oracle, SimConfig
from tests.support.events import outcome
from training.loop import RecallScorer, review_label
from training.loop.supervisor import decisions_match


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    return Oracle(SimConfig(), seed=3)


def first_index(oracle: Oracle, *, defective: bool) -> int:
    return next(i for i in range(500) if oracle.truth(i).defect_free is not defective)


def sent_frame(index: int) -> FramePayload:
    jpeg = b"jpeg-bytes-%d" % index
    meta = FrameMeta(
        line_id="l",
        station_id="s",
        agent_id="a",
        frame_id=str(index),
        captured_at=utc_now(),
        width=640,
        height=480,
        jpeg_sha256=hashlib.sha256(jpeg).hexdigest(),
        outcome_event_id="o" * 32,
        source_frame_index=index,
    )
    return FramePayload(meta, jpeg)


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


def test_wrong_decision_is_corrected_with_the_truth(oracle: Oracle) -> None:
    i = first_index(oracle, defective=True)
    label = review_label(sent_frame(i), oracle, outcome(detections=()))
    assert label is not None
    assert label.action is ReviewAction.CORRECT
    assert [d.class_name for d in label.detections] == [b.class_name for b in oracle.truth(i).boxes]


def test_right_decision_is_confirmed(oracle: Oracle) -> None:
    i = first_index(oracle, defective=True)
    label = review_label(sent_frame(i), oracle, outcome(detections=truth_detections(oracle, i)))
    assert label is not None
    assert label.action is ReviewAction.CONFIRM


def test_false_alarm_on_good_part_is_rejected(oracle: Oracle) -> None:
    i = first_index(oracle, defective=False)
    label = review_label(sent_frame(i), oracle, outcome())  # outcome() carries one scratch detection
    assert label is not None
    assert label.action is ReviewAction.REJECT
    assert label.detections == ()


def test_untraceable_frame_is_not_reviewed(oracle: Oracle) -> None:
    frame = sent_frame(0)
    frame = FramePayload(frame.meta.model_copy(update={"source_frame_index": None}), frame.jpeg)
    assert review_label(frame, oracle) is None


@pytest.mark.parametrize(
    ("truth_boxes", "pred_boxes", "match"),
    [
        ([("scratch", (0, 0, 10, 10))], [("scratch", (0, 0, 10, 10))], True),
        ([("scratch", (0, 0, 10, 10))], [("dent", (0, 0, 10, 10))], False),
        ([("scratch", (0, 0, 10, 10))], [("scratch", (20, 20, 30, 30))], False),
        ([], [("scratch", (0, 0, 10, 10))], False),
        ([("scratch", (0, 0, 10, 10))], [], False),
        ([], [], True),
    ],
)
def test_decisions_match(
    truth_boxes: list[tuple[str, tuple[int, int, int, int]]],
    pred_boxes: list[tuple[str, tuple[int, int, int, int]]],
    match: bool,
) -> None:
    def dets(items: list[tuple[str, tuple[int, int, int, int]]]) -> tuple[Detection, ...]:
        return tuple(
            Detection(class_id=0, class_name=n, confidence=1.0, box=Box(x1=b[0], y1=b[1], x2=b[2], y2=b[3]))
            for n, b in items
        )

    assert decisions_match(dets(truth_boxes), dets(pred_boxes)) is match


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
