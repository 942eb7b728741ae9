"""Applier: events -> dataset store, in any order, idempotent, reviews outranking predictions."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from factoryloop.schemas import Box as WireBox
from factoryloop.schemas import FramePayload, LabelSource, ReviewAction
from tests.support import events as ev
from training.datasets import DatasetStore, Provenance
from training.ingest import Applier, IngestState


def _jpeg(seed: int) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


@pytest.fixture
def make_applier(tmp_path: Path) -> Callable[[str], Applier]:
    def make(name: str = "store") -> Applier:
        store = DatasetStore(tmp_path / name)
        return Applier(store, IngestState(tmp_path / name / "ingest-state.sqlite"))

    return make


def _events(seed: int = 1) -> tuple[FramePayload, object, object]:
    jpeg = _jpeg(seed)
    meta = ev.frame(jpeg, width=64, height=48, product="steel_plate")
    det = ev.detection(box=WireBox(x1=2, y1=3, x2=30, y2=70))  # spills over the 48-pixel height: clipped
    outcome = ev.outcome(frame_sha256=meta.jpeg_sha256, detections=(det,), frame_width=64, frame_height=48)
    return FramePayload(meta, jpeg), outcome, det


def test_prediction_then_review_takes_precedence(make_applier: Callable[[str], Applier]) -> None:
    applier = make_applier("s")
    frame, outcome, _ = _events()
    applier.apply(frame)
    applier.apply(outcome)
    digest = frame.meta.jpeg_sha256
    eff = applier.store.effective_labels(digest)
    assert eff is not None and eff.provenance is Provenance.PREDICTION
    assert eff.boxes[0].y2 == 48  # clipped to the image
    applier.apply(
        ev.label(
            outcome_event_id=outcome.event_id, frame_sha256=digest, action=ReviewAction.REJECT, detections=()
        )
    )
    eff = applier.store.effective_labels(digest)
    assert eff is not None and eff.provenance is Provenance.HUMAN and eff.boxes == ()


@pytest.mark.parametrize(
    ("action", "source", "expected_classes", "provenance"),
    [
        (ReviewAction.CONFIRM, LabelSource.HUMAN, ["scratch"], Provenance.HUMAN),
        (ReviewAction.REJECT, LabelSource.HUMAN, [], Provenance.HUMAN),
        (ReviewAction.CORRECT, LabelSource.ORACLE, ["dent"], Provenance.SIMULATED),
    ],
)
def test_review_actions(
    make_applier: Callable[[str], Applier],
    action: ReviewAction,
    source: LabelSource,
    expected_classes: list[str],
    provenance: Provenance,
) -> None:
    applier = make_applier("s")
    frame, outcome, _ = _events()
    dets = (
        (ev.detection(class_id=1, class_name="dent", confidence=1.0),)
        if action is ReviewAction.CORRECT
        else ()
    )
    label = ev.label(
        outcome_event_id=outcome.event_id,
        frame_sha256=frame.meta.jpeg_sha256,
        action=action,
        detections=dets,
        source=source,
    )
    for event in (label, outcome, frame):  # worst order: the review first, the frame last
        applier.apply(event)
    eff = applier.store.effective_labels(frame.meta.jpeg_sha256)
    assert eff is not None
    assert [b.class_name for b in eff.boxes] == expected_classes
    assert eff.provenance is provenance
    assert applier.state.pending_count() == {}


def test_any_order_and_replay_give_the_same_store(make_applier: Callable[[str], Applier]) -> None:
    stream: list[object] = []
    for seed in range(6):
        frame, outcome, _ = _events(seed)
        stream += [frame, outcome]
        if seed % 2:
            stream.append(
                ev.label(
                    outcome_event_id=outcome.event_id,
                    frame_sha256=frame.meta.jpeg_sha256,
                    action=ReviewAction.CONFIRM,
                )
            )
    first = make_applier("a")
    for event in stream:
        first.apply(event)
    for event in stream:  # replay into the same store: nothing new
        first.apply(event)
    assert first.stats.duplicates == 6 + 3
    shuffled = make_applier("b")
    for event in random.Random(7).sample(stream, len(stream)):
        shuffled.apply(event)

    def snapshot(a: Applier) -> dict[str, tuple[str, tuple[object, ...]]]:
        return {h: (ls.provenance.value, ls.boxes) for h, ls in a.store.all_effective_labels().items()}

    assert snapshot(first) == snapshot(shuffled)
    assert len(snapshot(first)) == 6
    assert sum(len(first.store.label_history(h)) for h in snapshot(first)) == 9


def test_outcome_without_frame_is_skipped(make_applier: Callable[[str], Applier]) -> None:
    applier = make_applier("s")
    _, outcome, _ = _events()
    applier.apply(outcome.model_copy(update={"frame_sent": False}))
    assert applier.stats.skipped == 1 and applier.state.pending_count() == {}


@pytest.mark.parametrize(
    ("floor", "confidences", "provenance"),
    [
        (None, (0.99,), Provenance.PREDICTION),  # off by default
        (0.9, (0.95, 0.91), Provenance.PSEUDO),
        (0.9, (0.95, 0.5), Provenance.PREDICTION),  # one unsure box: not a pseudo label
        (0.9, (), Provenance.PREDICTION),  # nothing detected: nothing to be confident about
    ],
)
def test_confident_outcomes_become_pseudo_labels(
    tmp_path: Path, floor: float | None, confidences: tuple[float, ...], provenance: Provenance
) -> None:
    store = DatasetStore(tmp_path / "s")
    applier = Applier(store, IngestState(tmp_path / "s" / "state.sqlite"), pseudo_min_confidence=floor)
    frame, _, det = _events()
    dets = tuple(det.model_copy(update={"confidence": c}) for c in confidences)
    outcome = ev.outcome(
        frame_sha256=frame.meta.jpeg_sha256, detections=dets, frame_width=64, frame_height=48
    )
    applier.apply(frame)
    applier.apply(outcome)
    eff = store.effective_labels(frame.meta.jpeg_sha256)
    assert eff is not None and eff.provenance is provenance and len(eff.boxes) == len(confidences)
    applier.apply(ev.label(outcome_event_id=outcome.event_id, frame_sha256=frame.meta.jpeg_sha256))
    eff = store.effective_labels(frame.meta.jpeg_sha256)
    assert eff is not None and eff.provenance is Provenance.HUMAN  # a review still outranks it


def test_reviews_are_stored_for_the_triggers(make_applier: Callable[[str], Applier]) -> None:
    """Each review (not a prediction) gets its reviews row: the frame's product and the action; a replay,
    or a review parked until its frame arrives, is counted once, when it is stored."""
    applier = make_applier("s")
    store = applier.store
    stream: list[object] = []
    for seed, action in enumerate((ReviewAction.CONFIRM, ReviewAction.REJECT, ReviewAction.CORRECT)):
        frame, outcome, _ = _events(seed)
        dets = (ev.detection(class_name="crack", confidence=1.0),) if action is ReviewAction.CORRECT else ()
        label = ev.label(
            outcome_event_id=outcome.event_id,
            frame_sha256=frame.meta.jpeg_sha256,
            action=action,
            detections=dets,
            product="label-product",  # the frame's product is the one its retrains select images by
        )
        stream += [label, outcome, frame]
    for event in stream[:2]:  # a review before its frame: parked, not counted
        applier.apply(event)
    assert store.review_counts() == {}
    for event in stream + stream:  # and a replay
        applier.apply(event)
    assert store.review_counts() == {"steel_plate": 3}
    assert store.review_counts(actions=["reject", "correct"]) == {"steel_plate": 2}
    assert store.review_counts(classes=["crack"]) == {"steel_plate": 1}
    assert store.review_counts(classes=["scratch"], actions=["confirm"]) == {"steel_plate": 1}
