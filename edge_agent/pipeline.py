"""The inspection pipeline: capture -> inference -> publish threads joined by bounded queues.

Capture never blocks: when inference falls behind, the new frame is dropped and counted. Inference decides
and signals the sinks first (the reject path), then hands the result to the publish thread, which wakes
every ``pipeline.publish_interval_ms`` to encode sampled frames and send the outcomes of all the frames
inspected meanwhile (a full handoff only slows inference down, never loses an outcome).

With a ``trigger`` (a :class:`~edge_agent.station.Station`), capture waits for each part and takes one frame
per camera for it; the part id is the frames' ``item_id``, and with an ``ejector`` the signals go to the
ejector scheduler (timed to the part) instead of straight to the sinks.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import uuid

import cv2
import numpy as np

from edge_agent.config import AgentConfig
from edge_agent.decide.rules import Decision, RuleSet
from edge_agent.detect.letterbox import Prepared
from edge_agent.handoff import BatchHandoff
from edge_agent.health import CameraMonitor
from edge_agent.inflight import CapturedFrame, Inspected
from edge_agent.models.manager import LoadedModel, ModelManager
from edge_agent.publish.outcome import publish_inspected
from edge_agent.publish.publisher import Publisher
from edge_agent.publish.sampling import Sampler
from edge_agent.sinks.base import RejectSignal, SinkWorker
from edge_agent.sources.base import RawFrame
from edge_agent.sources.watchdog import WatchedSource
from edge_agent.station import Station
from edge_agent.stats import AgentStats
from edge_agent.triggers.base import TriggerEvent
from factoryloop.schemas import Latency, Verdict, utc_now

logger = logging.getLogger(__name__)
_END = object()


class Pipeline:
    def __init__(
        self,
        config: AgentConfig,
        source: WatchedSource,
        models: ModelManager,
        rules: RuleSet,
        sampler: Sampler,
        sinks: list[SinkWorker],
        publisher: Publisher,
        stats: AgentStats,
        camera: CameraMonitor,
        station: Station | None = None,
    ) -> None:
        self.config, self.source, self.models, self.rules = config, source, models, rules
        self.station, self.ejector = station, station.ejector if station else None
        self.sampler, self.sinks, self.publisher, self.stats, self.camera = (
            sampler,
            sinks,
            publisher,
            stats,
            camera,
        )
        p = config.pipeline
        # C SimpleQueue (one C call per put/get); bounded by the capture thread, its only producer
        self.capture_q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.capture_max = p.capture_queue
        self.publish_q: BatchHandoff[Inspected] = BatchHandoff(p.publish_queue, p.publish_interval_ms / 1000)
        self.shadow_q: queue.Queue[object] = queue.Queue(maxsize=p.shadow_queue)
        self._rng = random.Random(config.sampling.seed)
        self._threads = [
            threading.Thread(target=self._capture, name="capture", daemon=True),
            threading.Thread(target=self._inference, name="inference", daemon=True),
            threading.Thread(target=self._publish, name="publish", daemon=True),
            threading.Thread(target=self._shadow, name="shadow", daemon=True),
        ]
        self.started_mono = time.monotonic()
        self.first_decided_mono: float | None = None  # first and last verdicts: steady-state throughput
        self.last_decided_mono: float | None = None

    def queue_depths(self) -> dict[str, int]:
        return {
            "capture": self.capture_q.qsize(),
            "publish": self.publish_q.qsize(),
            "shadow": self.shadow_q.qsize(),
            **{f"sink:{s.sink.name}": s.depth for s in self.sinks},
        }

    def start(self) -> None:
        self.started_mono = time.monotonic()
        for t in self._threads:
            t.start()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait until every frame captured so far is published (after the source ended or stop)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def _capture(self) -> None:
        try:
            if self.station is None:
                for raw in self.source.frames():
                    self._take(raw, None)
            else:
                self._triggered(self.station)
        except Exception:
            self.stats.incr("errors")
            logger.exception("capture thread failed")
        finally:
            self.capture_q.put(_END)

    def _triggered(self, station: Station) -> None:
        for part, frames in station.capture.parts():
            self.stats.incr("parts_triggered")
            if self.ejector is not None:
                self.ejector.register(part, len(frames))
            for raw in frames:
                if raw is None:
                    self.stats.incr("parts_without_frame")
                    self._lost(part, "no frame from a camera")
                else:
                    self._take(raw, part)

    def _take(self, raw: RawFrame, part: TriggerEvent | None) -> None:
        assert raw.image is not None  # the watchdog yields valid images only
        captured_at, captured_mono = utc_now(), time.monotonic()
        self.stats.incr("frames_captured")
        if self.capture_q.qsize() >= self.capture_max:
            self.stats.incr("frames_dropped")
            self._lost(part, "frame dropped (inference behind)")
            return
        # Letterbox + tensor here, beside inference (OpenCV releases the GIL): the inference thread then only
        # runs the model, decodes and decides. A frame prepared for a model swapped out meanwhile is prepared
        # again by the inference thread.
        prepared = self._prepare(raw.image)
        item_id = part.part_id if part is not None else raw.item_id
        frame_id = uuid.uuid4().hex[:16]
        self.capture_q.put(
            CapturedFrame(frame_id, raw.image, captured_at, captured_mono, raw.index, item_id, prepared, part)
        )

    def _lost(self, part: TriggerEvent | None, reason: str) -> None:
        if part is not None and self.ejector is not None:
            self.ejector.lost(part.part_id, reason)

    def _prepare(self, image: np.ndarray) -> Prepared | None:
        try:
            return self.models.current.detector.prepare(image)
        except (cv2.error, ValueError) as exc:  # the inference thread tries again, and counts the failure
            logger.debug("could not prepare a frame for the model: %r", exc)
            return None

    def _inference(self) -> None:
        n = 0
        while (item := self.capture_q.get()) is not _END:
            assert isinstance(item, CapturedFrame)
            model = self.models.current  # read once: a swap takes effect between frames
            try:
                t0 = time.monotonic()
                detections = model.detector.detect(item.image, item.prepared)
                t1 = time.monotonic()
            except Exception as exc:
                self.stats.incr("errors")
                self.stats.incr("inference_errors")
                logger.error("inference failed on frame %s: %r", item.frame_id, exc)
                self._lost(item.part, "inference error")
                continue
            h, w = item.image.shape[:2]
            decision = self.rules.decide(detections, w, h)
            outcome_id = uuid.uuid4().hex
            reject_ms = self._signal(item, decision, outcome_id)
            decided = time.monotonic()
            if self.first_decided_mono is None:
                self.first_decided_mono = decided
            self.last_decided_mono = decided
            decision_ms, inference_ms = (decided - item.captured_mono) * 1000, (t1 - t0) * 1000
            self.stats.inspected(decision.verdict.value, inference_ms, decision_ms, decision.reasons)
            latency = Latency.model_construct(  # our own non-negative floats: no validation per frame
                capture_to_decision_ms=decision_ms, inference_ms=inference_ms, capture_to_reject_ms=reject_ms
            )
            self.publish_q.put(
                Inspected(item, decision, model, outcome_id, latency, self.sampler.reason(decision))
            )
            n += 1
            if n % 10 == 1:
                self.models.remember(item.image)
            self._maybe_shadow(item)
        self.shadow_q.put(_END)

    def _signal(self, item: CapturedFrame, decision: Decision, outcome_id: str) -> float | None:
        if not self.sinks:
            return None
        signal = RejectSignal(
            decision.verdict,
            item.frame_id,
            item.item_id,
            self.config.line_id,
            self.config.station_id,
            decision.reasons,
            item.captured_at,
            item.captured_mono,
            outcome_id,
        )
        if self.ejector is not None and item.part is not None:
            self.ejector.decided(item.part.part_id, signal)  # fired when the part reaches the ejector
            return None
        sent = [s.submit(signal) for s in self.sinks]
        return (time.monotonic() - item.captured_mono) * 1000 if any(sent) else None

    def _maybe_shadow(self, item: CapturedFrame) -> None:
        slot = self.models.shadow
        if slot is None or self._rng.random() >= slot.sample_rate:
            return
        try:
            self.shadow_q.put_nowait((item, slot.model))
        except queue.Full:
            self.stats.incr("shadow_dropped")

    def _shadow(self) -> None:
        while (job := self.shadow_q.get()) is not _END:
            assert isinstance(job, tuple)
            item: CapturedFrame = job[0]
            model: LoadedModel = job[1]
            try:
                t0 = time.monotonic()
                detections = model.detector.detect(item.image)
                ms = (time.monotonic() - t0) * 1000
            except Exception as exc:
                self.stats.incr("shadow_errors")
                logger.error("shadow inference failed: %r", exc)
                continue
            h, w = item.image.shape[:2]
            decision = self.rules.decide(detections, w, h)
            latency = Latency(
                capture_to_decision_ms=(time.monotonic() - item.captured_mono) * 1000, inference_ms=ms
            )
            self.publish_q.put(Inspected(item, decision, model, uuid.uuid4().hex, latency, None, shadow=True))
            self.stats.incr("shadow_inspected")
        self.publish_q.close()

    def _publish(self) -> None:
        while (batch := self.publish_q.get_batch()) is not None:
            for item in batch:
                try:
                    self._publish_one(item)
                    if not item.shadow:  # camera health off the inspection path, in frame order
                        self.camera.observe(item.frame.image)
                except Exception:
                    self.stats.incr("errors")
                    logger.exception("publishing the outcome of frame %s failed", item.frame.frame_id)

    def _publish_one(self, item: Inspected) -> None:
        publish_inspected(self.config, self.rules, self.publisher, self.stats, item)


__all__ = ["CapturedFrame", "Inspected", "Pipeline", "Verdict"]
