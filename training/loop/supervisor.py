"""A simulated supervisor: reviews every frame an agent sends, answering with the simulated line's truth.

In production the review comes from people in the dashboard; here the :class:`~factoryloop.sim.Oracle` plays
that part so the loop can be tested and demonstrated. It reads the outcome of each sent frame too, so it
*confirms* a decision the model got right and *corrects* (or *rejects*) one it got wrong — which is what the
canary's override rate measures. Labels go to the labels topic exactly as the API's do.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from factoryloop.kafka import EventProducer, TypedConsumer
from factoryloop.schemas import Box, Detection, FramePayload, Label, LabelSource, Outcome, ReviewAction
from factoryloop.settings import KafkaSettings
from factoryloop.sim import Oracle
from factoryloop.topics import TopicRole
from training.loop.scoring import iou

logger = logging.getLogger(__name__)
MATCH_IOU = 0.5


def _box(d: Detection) -> tuple[float, float, float, float]:
    return (d.box.x1, d.box.y1, d.box.x2, d.box.y2)


def decisions_match(truth: tuple[Detection, ...], predicted: tuple[Detection, ...]) -> bool:
    """True when every true defect was found (same class, IoU >= 0.5) and nothing else was reported."""
    unmatched = list(predicted)
    for t in truth:
        same = (p for p in unmatched if p.class_name == t.class_name)
        hit = next((p for p in same if iou(_box(t), _box(p)) >= MATCH_IOU), None)
        if hit is None:
            return False
        unmatched.remove(hit)
    return not unmatched


def review_label(
    frame: FramePayload, oracle: Oracle, outcome: Outcome | None = None, reviewer: str = "oracle"
) -> Label | None:
    """The label a perfect supervisor gives a sent frame, or None if the frame cannot be traced."""
    meta = frame.meta
    if meta.source_frame_index is None or meta.outcome_event_id is None:
        return None
    truth = tuple(
        Detection(
            class_id=b.class_id,
            class_name=b.class_name,
            confidence=1.0,
            box=Box(x1=b.x1, y1=b.y1, x2=b.x2, y2=b.y2),
        )
        for b in oracle.truth(meta.source_frame_index).boxes
    )
    detections: tuple[Detection, ...] = ()
    if outcome is not None and decisions_match(truth, outcome.detections):
        action = ReviewAction.CONFIRM
    elif truth:
        action, detections = ReviewAction.CORRECT, truth
    else:
        action = ReviewAction.REJECT
    return Label(
        line_id=meta.line_id,
        station_id=meta.station_id,
        agent_id=meta.agent_id,
        outcome_event_id=meta.outcome_event_id,
        frame_sha256=meta.jpeg_sha256,
        product=meta.product,
        action=action,
        detections=detections,
        reviewer=reviewer,
        source=LabelSource.ORACLE,
    )


class SimulatedSupervisor:
    """Consumes outcomes and frames; publishes one review per traceable sent frame, in a background thread.

    With ``product`` set it reviews only that product's frames (the oracle knows one line's truth); the other
    products' frames are left to their own supervisors."""

    def __init__(
        self,
        kafka: KafkaSettings,
        oracle: Oracle,
        *,
        group_id: str = "simulated-supervisor",
        product: str | None = None,
    ) -> None:
        self.kafka = kafka
        self.oracle = oracle
        self.group_id = group_id
        self.product = product
        self.reviewed = 0
        self.reviewed_by_class: dict[str, int] = {}
        self.actions: dict[str, int] = {}
        self.error: BaseException | None = None
        self._outcomes: OrderedDict[str, Outcome] = OrderedDict()
        self._waiting: OrderedDict[str, FramePayload] = OrderedDict()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulated-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _review(self, producer: EventProducer, frame: FramePayload, outcome: Outcome | None) -> None:
        label = review_label(frame, self.oracle, outcome)
        if label is None:
            return
        producer.send(TopicRole.LABELS, label)
        self.reviewed += 1
        self.actions[label.action.value] = self.actions.get(label.action.value, 0) + 1
        for det in label.detections:
            self.reviewed_by_class[det.class_name] = self.reviewed_by_class.get(det.class_name, 0) + 1

    def _handle(self, producer: EventProducer, event: object) -> None:
        if self.product is not None:
            product = (
                event.meta.product if isinstance(event, FramePayload) else getattr(event, "product", None)
            )
            if product != self.product:
                return
        if isinstance(event, Outcome) and event.frame_sent and not event.shadow:
            frame = self._waiting.pop(event.event_id, None)
            if frame is not None:
                self._review(producer, frame, event)
            else:
                self._outcomes[event.event_id] = event
        elif isinstance(event, FramePayload) and event.meta.outcome_event_id:
            outcome = self._outcomes.pop(event.meta.outcome_event_id, None)
            if outcome is not None:
                self._review(producer, event, outcome)
            else:
                self._waiting[event.meta.outcome_event_id] = event
        for pending in (self._outcomes, self._waiting):
            while len(pending) > 10_000:  # bounded: a frame whose outcome never comes is reviewed without it
                _, old = pending.popitem(last=False)
                if isinstance(old, FramePayload):
                    self._review(producer, old, None)

    def _run(self) -> None:
        roles = [TopicRole.OUTCOMES, TopicRole.FRAMES]
        try:
            with (
                EventProducer(self.kafka) as producer,
                TypedConsumer(self.kafka, roles, self.group_id) as consumer,
            ):
                while not self._stop.is_set():
                    records = consumer.poll(timeout_ms=500)
                    for record in records:
                        self._handle(producer, record.event)
                    if records:
                        producer.flush(30)
                        consumer.commit()
        except Exception as exc:  # thread boundary: keep the error for the caller, log it
            self.error = exc
            logger.exception("simulated supervisor stopped")
