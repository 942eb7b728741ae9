"""Apply frames, outcomes and labels to the dataset store, idempotently and in any arrival order.

- A frame is stored once by its JPEG sha256 (the store deduplicates).
- An outcome's detections become a ``prediction`` label of its frame (``source_ref = outcome:<event_id>``).
- A review (:class:`Label`) becomes a ``human`` (or, from the simulated supervisor, ``simulated``) label,
  which outranks predictions: ``confirm`` -> the outcome's detections, ``reject`` -> no defect,
  ``correct`` -> the reviewer's detections.
- An event whose frame (or, for ``confirm``, whose outcome) has not arrived yet is parked and applied when it
  does. Every label carries its event id in ``source_ref``, so a replay adds nothing twice.
- A review is stored with its ``reviews`` row (product, action) in the same transaction: what the retrain
  triggers count, so a trigger never counts a review the store does not hold yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from factoryloop.schemas import Detection, FramePayload, Label, LabelSource, Outcome, ReviewAction
from training.datasets import Box, DatasetError, DatasetStore, Provenance
from training.ingest.state import IngestState, Pending

logger = logging.getLogger(__name__)

_PROVENANCE = {LabelSource.HUMAN: Provenance.HUMAN, LabelSource.ORACLE: Provenance.SIMULATED}


@dataclass
class IngestStats:
    frames: int = 0
    predictions: int = 0
    labels: int = 0
    parked: int = 0
    duplicates: int = 0
    skipped: int = 0
    by_product: dict[str, int] = field(default_factory=dict)
    # Events not stored, per reason (``duplicate``, ``shadow``, ``frame_not_sent``, ``unknown_event``):
    # the ``factoryloop_ingest_dropped_total`` of /metrics (training.ingest.metrics).
    dropped: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestStats) -> None:
        for name in ("frames", "predictions", "labels", "parked", "duplicates", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, n in other.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + n

    def drop(self, reason: str) -> None:
        """One event not stored: a duplicate, or skipped (shadow, frame not sent, unknown event)."""
        if reason == "duplicate":
            self.duplicates += 1
        else:
            self.skipped += 1
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


def frame_source(line_id: str, station_id: str) -> str:
    return f"kafka:{line_id}/{station_id}"


def _dicts(detections: Iterable[Detection]) -> list[dict[str, Any]]:
    return [d.model_dump(mode="json") for d in detections]


class Applier:
    """Turns decoded events into dataset-store writes. Not thread-safe: one consumer loop owns it."""

    def __init__(
        self, store: DatasetStore, state: IngestState, *, pseudo_min_confidence: float | None = None
    ) -> None:
        """``pseudo_min_confidence``: an outcome whose detections all reach it is stored as a *pseudo* label
        (trainable when the retrain asks for pseudo labels) instead of a raw prediction; None: off."""
        self.store = store
        self.state = state
        self.pseudo_min_confidence = pseudo_min_confidence
        self.stats = IngestStats()

    def apply(self, event: object) -> None:
        if isinstance(event, FramePayload):
            self._frame(event)
        elif isinstance(event, Outcome):
            self._outcome(event)
        elif isinstance(event, Label):
            self._label(event)
        else:
            self.stats.drop("unknown_event")

    # frames ----------------------------------------------------------------------------------------------
    def _frame(self, frame: FramePayload) -> None:
        meta = frame.meta
        digest = self.store.add_image(
            frame.jpeg, source=frame_source(meta.line_id, meta.station_id), product=meta.product
        )
        self.stats.frames += 1
        for parked in self.state.pending_for_frame(digest):
            if parked.waiting_for == "frame":
                self._resume(parked)

    def _resume(self, parked: Pending) -> None:
        self.state.unpark(parked.event_id)
        if parked.kind == "outcome":
            self._outcome(Outcome.model_validate_json(parked.payload), remember=False)
        else:
            self._label(Label.model_validate_json(parked.payload))

    # outcomes --------------------------------------------------------------------------------------------
    def _outcome(self, outcome: Outcome, *, remember: bool = True) -> None:
        if remember:
            self.state.remember_outcome(
                outcome.event_id, outcome.frame_sha256, outcome.product, _dicts(outcome.detections)
            )
            for parked in self.state.pending_for_outcome(outcome.event_id):
                self._resume(parked)
        if outcome.shadow:
            self.stats.drop("shadow")  # a shadow model's guesses are not provenance of anything
            return
        ref = f"outcome:{outcome.event_id}"
        self._write(
            outcome,
            outcome.frame_sha256,
            outcome.detections,
            self._prediction_provenance(outcome),
            ref,
            frame_expected=outcome.frame_sent,
        )

    def _prediction_provenance(self, outcome: Outcome) -> Provenance:
        floor = self.pseudo_min_confidence
        confident = (
            floor is not None
            and bool(outcome.detections)
            and all(d.confidence >= floor for d in outcome.detections)
        )
        return Provenance.PSEUDO if confident else Provenance.PREDICTION

    # labels ----------------------------------------------------------------------------------------------
    def _label(self, label: Label) -> None:
        detections: Iterable[Detection]
        if label.action is ReviewAction.CONFIRM:
            known = self.state.outcome(label.outcome_event_id)
            if known is None:
                self.state.park(
                    label.event_id,
                    "label",
                    label.frame_sha256,
                    label.ts.isoformat(),
                    label.model_dump_json(),
                    f"outcome:{label.outcome_event_id}",
                )
                self.stats.parked += 1
                return
            detections = [Detection.model_validate(d) for d in known[2]]
        elif label.action is ReviewAction.REJECT:
            detections = ()
        else:
            detections = label.detections
        ref = f"label:{label.event_id}"
        self._write(
            label, label.frame_sha256, detections, _PROVENANCE[label.source], ref, frame_expected=True
        )

    # the write -------------------------------------------------------------------------------------------
    def _write(
        self,
        event: Outcome | Label,
        frame_sha256: str,
        detections: Iterable[Detection],
        provenance: Provenance,
        ref: str,
        *,
        frame_expected: bool,
    ) -> None:
        try:
            record = self.store.image(frame_sha256)
        except DatasetError:
            if not frame_expected:
                self.stats.drop("frame_not_sent")  # the agent did not send this frame: nothing to label
                return
            kind = "outcome" if isinstance(event, Outcome) else "label"
            self.state.park(
                event.event_id, kind, frame_sha256, event.ts.isoformat(), event.model_dump_json(), "frame"
            )
            self.stats.parked += 1
            return
        if any(h.source_ref == ref for h in self.store.label_history(frame_sha256)):
            self.stats.drop("duplicate")
            return
        boxes = [
            b
            for b in (
                Box(d.class_name, d.box.x1, d.box.y1, d.box.x2, d.box.y2).clipped(record.width, record.height)
                for d in detections
            )
            if b is not None
        ]
        if isinstance(event, Outcome):
            self.store.set_labels(frame_sha256, boxes, provenance=provenance, source_ref=ref)
            self.stats.predictions += 1
            return
        # A review counts for its frame's product, the one whose retrains train on this image.
        product = record.product or "unknown"
        self.store.add_review(
            frame_sha256,
            boxes,
            provenance=provenance,
            source_ref=ref,
            action=event.action.value,
            product=record.product,
        )
        self.stats.labels += 1
        self.stats.by_product[product] = self.stats.by_product.get(product, 0) + 1
