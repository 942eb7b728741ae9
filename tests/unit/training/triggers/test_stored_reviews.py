"""new_labels on a dataset store: it counts the reviews stored for each product after the product's mark;
the mark moves (durably) when a retrain is queued; a reopened store or a new trigger sees the same count."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from factoryloop.schemas import ReviewAction
from training.datasets import Box, DatasetStore, Provenance
from training.triggers import (
    NewLabelsTrigger,
    NewLabelsTriggerConfig,
    RetrainQueue,
    TrainerState,
    TriggerEvaluator,
    TriggersConfig,
    build_triggers,
)

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
C, R, X = ReviewAction.CONFIRM, ReviewAction.REJECT, ReviewAction.CORRECT

# One stored row: (kind, product, action, classes). kind "review" goes through add_review (what the ingest
# writes for a Label); "prediction", "import" and "legacy" (a review stored before the reviews table) don't.
Row = tuple[str, str, ReviewAction | None, tuple[str, ...]]


def _jpeg(seed: int) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", img)[1].tobytes()


class Rows:
    """Writes rows into a store, each on an image of its product (a fresh one per row)."""

    def __init__(self, store: DatasetStore) -> None:
        self.store = store
        self.n = 0

    def add(self, *rows: Row) -> None:
        for kind, product, action, classes in rows:
            self.n += 1
            digest = self.store.add_image(_jpeg(self.n), source="test", product=product)
            boxes = [Box(c, 1, 1, 20, 20) for c in classes]
            ref = f"label:{self.n}"
            if kind == "review":
                assert action is not None
                self.store.add_review(
                    digest,
                    boxes,
                    provenance=Provenance.HUMAN,
                    source_ref=ref,
                    action=action.value,
                    product=product,
                )
            else:
                prov = {"prediction": Provenance.PREDICTION, "import": Provenance.IMPORT}.get(kind)
                self.store.set_labels(digest, boxes, provenance=prov or Provenance.HUMAN, source_ref=ref)


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[Callable[[], DatasetStore]]:
    """Open (or reopen, like a restarted trainer) the same store."""
    opened: list[DatasetStore] = []

    def make() -> DatasetStore:
        opened.append(DatasetStore(tmp_path / "store"))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def _review(product: str, action: ReviewAction = X, *classes: str) -> Row:
    return ("review", product, action, classes or ("scratch",))


@pytest.mark.parametrize(
    ("config", "rows", "counts"),
    [
        (NewLabelsTriggerConfig(), [_review("p")] * 3 + [_review("q")], {"p": 3, "q": 1}),
        (  # predictions, imports and reviews stored before the reviews table are not reviews
            NewLabelsTriggerConfig(),
            [
                _review("p"),
                ("prediction", "p", None, ("dent",)),
                ("import", "p", None, ("dent",)),
                ("legacy", "p", None, ("dent",)),
            ],
            {"p": 1},
        ),
        (  # classes: the stored boxes (a reject stores none)
            NewLabelsTriggerConfig(classes=("crack",)),
            [
                _review("p", X, "crack"),
                _review("p", X, "scratch", "crack"),
                _review("p", X, "dent"),
                ("review", "p", R, ()),
            ],
            {"p": 2},
        ),
        (NewLabelsTriggerConfig(classes=("crack", "dent")), [_review("p", X, "dent")], {"p": 1}),
        (  # actions: the stored review action
            NewLabelsTriggerConfig(actions=(X,)),
            [_review("p", C), ("review", "p", R, ()), _review("p", X), _review("q", C)],
            {"p": 1},
        ),
        (
            NewLabelsTriggerConfig(actions=(R, C), classes=("scratch",)),
            [_review("p", C), ("review", "p", R, ()), _review("p", X)],
            {"p": 1},
        ),
        (NewLabelsTriggerConfig(), [], {}),
    ],
)
def test_counts_stored_reviews(
    open_store: Callable[[], DatasetStore],
    config: NewLabelsTriggerConfig,
    rows: list[Row],
    counts: dict[str, int],
) -> None:
    store = open_store()
    Rows(store).add(*rows)
    trigger = NewLabelsTrigger(config, store)
    assert trigger.pending() == counts


@pytest.mark.parametrize(
    ("min_labels", "before", "after", "due_before", "due_after"),
    [
        (3, 3, 0, ["p"], []),  # fired, then forgotten: the mark moved past every stored review
        (3, 3, 2, ["p"], []),
        (3, 3, 3, ["p"], ["p"]),  # three more after the mark: due again
        (3, 2, 1, [], ["p"]),  # not queued before: the count goes on
    ],
)
def test_mark_moves_when_queued_and_survives_a_reopen(
    open_store: Callable[[], DatasetStore],
    min_labels: int,
    before: int,
    after: int,
    due_before: list[str],
    due_after: list[str],
) -> None:
    store = open_store()
    rows = Rows(store)
    rows.add(*[_review("p")] * before, _review("q"))
    evaluator = TriggerEvaluator(
        [NewLabelsTrigger(NewLabelsTriggerConfig(min_labels=min_labels), store)], RetrainQueue()
    )
    assert [r.product for r in evaluator.check(T0)] == due_before
    mark = store.review_mark("p")
    assert (mark > 0) == bool(due_before) and store.review_mark("q") == 0  # q was not queued
    rows.add(*[_review("p")] * after)
    # A restart: the same store reopened, a new trigger; the count is the store's.
    again = open_store()
    assert again.review_mark("p") == mark
    trigger = NewLabelsTrigger(NewLabelsTriggerConfig(min_labels=min_labels), again)
    expected = after if due_before else before + after
    assert trigger.pending().get("p", 0) == expected
    assert [r.product for r in trigger.due(T0)] == due_after


def test_fires_once_at_the_threshold_across_a_restart(
    open_store: Callable[[], DatasetStore], tmp_path: Path
) -> None:
    """Half the reviews, a restart (store, state, queue and triggers all new), the rest: one request."""
    config = TriggersConfig(triggers=(NewLabelsTriggerConfig(min_labels=6, classes=("crack",)),))

    def start(store: DatasetStore) -> tuple[TriggerEvaluator, TrainerState]:
        state = TrainerState(tmp_path / "state" / "trainer-state.sqlite")
        queue = RetrainQueue(state)
        return TriggerEvaluator(build_triggers(config, T0, store=store, state=state), queue), state

    store = open_store()
    evaluator, state = start(store)
    Rows(store).add(*[_review("p", X, "crack")] * 3, _review("p", X, "dent"))
    assert evaluator.check(T0) == []
    state.close()
    store = open_store()
    evaluator, state = start(store)
    rows = Rows(store)
    rows.n = 100  # other images
    rows.add(*[_review("p", X, "crack")] * 2)
    assert evaluator.check(T0) == []
    rows.add(_review("p", X, "crack"))
    fired = evaluator.check(T0)
    assert [r.reason for r in fired] == ["6 new reviews with crack (threshold 6)"]
    assert evaluator.check(T0) == []  # forgotten
    assert [r.product for r in evaluator.queue.waiting()] == ["p"]
    state.close()
    evaluator, state = start(open_store())  # and again: the request waits, nothing new fires
    assert evaluator.check(T0) == [] and [r.product for r in evaluator.queue.waiting()] == ["p"]
    state.close()


def test_a_request_queued_but_not_yet_forgotten_merges_after_a_restart(
    open_store: Callable[[], DatasetStore], tmp_path: Path
) -> None:
    """A trainer stopped between the queue's write and the mark's finds one request, not two."""
    store = open_store()
    Rows(store).add(*[_review("p")] * 2)
    state = TrainerState(tmp_path / "trainer-state.sqlite")
    queue = RetrainQueue(state)
    trigger = NewLabelsTrigger(NewLabelsTriggerConfig(min_labels=2), store)
    for request in trigger.due(T0):  # queued, and then the process died: no reset
        queue.submit(request)
    state.close()
    state = TrainerState(tmp_path / "trainer-state.sqlite")
    evaluator = TriggerEvaluator(
        [NewLabelsTrigger(NewLabelsTriggerConfig(min_labels=2), store)], RetrainQueue(state)
    )
    assert len(evaluator.check(T0)) == 1  # fires again ...
    assert len(evaluator.queue.waiting()) == 1  # ... into the request that waits
    assert evaluator.check(T0) == []
    state.close()


@pytest.mark.parametrize(
    ("classes", "second", "counted"),
    [
        ((), (X, "crack"), 1),  # one frame reviewed twice counts once
        (("crack",), (R,), 0),  # a crack corrected, then rejected on a second look: no crack any more
        (("crack",), (X, "crack"), 1),
        (("crack",), (X, "scratch", "crack"), 1),
    ],
)
def test_a_frame_reviewed_again_counts_once_as_its_latest_review(
    open_store: Callable[[], DatasetStore], classes: tuple[str, ...], second: tuple[str, ...], counted: int
) -> None:
    store = open_store()
    digest = store.add_image(_jpeg(1), source="test", product="p")
    for n, (action, *names) in enumerate([(X, "crack"), second]):
        store.add_review(
            digest,
            [Box(c, 1, 1, 20, 20) for c in names],
            provenance=Provenance.HUMAN,
            source_ref=f"label:{n}",
            action=ReviewAction(action).value,
            product="p",
        )

    assert store.review_counts(classes=classes) == ({"p": counted} if counted else {})
