"""The inspection pipeline: capture -> inference -> publish threads joined by bounded queues.

Capture never blocks: when inference falls behind, the new frame is dropped and counted. Inference decides
and signals the sinks first (the reject path), then hands the result to the publish thread, which wakes
every ``pipeline.publish_interval_ms`` to encode sampled frames and send the outcomes of all the frames
inspected meanwhile (a full handoff only slows inference down, never loses an outcome).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np

from edge_agent.config import AgentConfig
from edge_agent.decide.rules import Decision, RuleSet
from edge_agent.detect.letterbox import Prepared
from edge_agent.handoff import BatchHandoff
from edge_agent.health import CameraMonitor
from edge_agent.models.manager import LoadedModel, ModelManager
from edge_agent.publish.buffer import PRIO_OUTCOME
from edge_agent.publish.publisher import Publisher
from edge_agent.publish.sampling import PRIORITY_OF_REASON, Sampler
from edge_agent.sinks.base import RejectSignal, SinkWorker
from edge_agent.sources.watchdog import WatchedSource
from edge_agent.stats import AgentStats
from factoryloop.schemas import FrameMeta, Latency, Outcome, Verdict, utc_now
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)
_END = object()


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    frame_id: str
    image: np.ndarray
    captured_at: datetime
    captured_mono: float
    source_index: int | None
    item_id: str | None
    prepared: Prepared | None = None  # the model input, made by the capture thread


@dataclass(frozen=True, slots=True)
class Inspected:
    frame: CapturedFrame
    decision: Decision
    model: LoadedModel
    outcome_id: str
    latency: Latency
    sample_reason: str | None
    shadow: bool = False


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
    ) -> None:
        self.config, self.source, self.models, self.rules = config, source, models, rules
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
            for raw in self.source.frames():
                assert raw.image is not None  # the watchdog yields valid images only
                captured_at, captured_mono = utc_now(), time.monotonic()
                self.stats.incr("frames_captured")
                if self.capture_q.qsize() >= self.capture_max:
                    self.stats.incr("frames_dropped")
                    continue
                # Letterbox + tensor here, beside inference (OpenCV releases the GIL): the inference thread
                # then only runs the model, decodes and decides. A frame prepared for a model swapped out
                # meanwhile is prepared again by the inference thread.
                prepared = self._prepare(raw.image)
                self.capture_q.put(
                    CapturedFrame(
                        uuid.uuid4().hex[:16],
                        raw.image,
                        captured_at,
                        captured_mono,
                        raw.index,
                        raw.item_id,
                        prepared,
                    )
                )
        except Exception:
            self.stats.incr("errors")
            logger.exception("capture thread failed")
        finally:
            self.capture_q.put(_END)

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
            self.stats.inspected(decision.verdict.value, inference_ms, decision_ms)
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
        cfg, frame = self.config, item.frame
        station = {"line_id": cfg.line_id, "station_id": cfg.station_id, "agent_id": cfg.agent_id}
        h, w = frame.image.shape[:2]
        frame_sha = None
        if item.sample_reason is not None:
            ok, buf = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, cfg.sampling.jpeg_quality])
            if ok:
                jpeg = buf.tobytes()
                frame_sha = hashlib.sha256(jpeg).hexdigest()
                meta = FrameMeta(
                    **station,
                    frame_id=frame.frame_id,
                    item_id=frame.item_id,
                    product=cfg.product,
                    captured_at=frame.captured_at,
                    width=w,
                    height=h,
                    jpeg_sha256=frame_sha,
                    outcome_event_id=item.outcome_id,
                    sample_reason=item.sample_reason,
                    source_frame_index=frame.source_index,
                )
                self.publisher.publish(TopicRole.FRAMES, meta, PRIORITY_OF_REASON[item.sample_reason], jpeg)
                self.stats.incr("frames_sent")
        outcome = Outcome(
            **station,
            event_id=item.outcome_id,
            frame_id=frame.frame_id,
            item_id=frame.item_id,
            product=cfg.product,
            captured_at=frame.captured_at,
            verdict=item.decision.verdict,
            detections=item.decision.detections,
            model=item.model.ref,
            thresholds=self.rules.thresholds(item.model.detector.class_names),
            latency=item.latency,
            frame_sha256=frame_sha or hashlib.sha256(np.ascontiguousarray(frame.image).data).hexdigest(),
            frame_width=w,
            frame_height=h,
            frame_sent=frame_sha is not None,
            sample_reason=item.sample_reason if frame_sha else None,
            shadow=item.shadow,
            source_frame_index=frame.source_index,
        )
        self.publisher.publish(TopicRole.OUTCOMES, outcome, PRIO_OUTCOME)
        self.stats.incr("outcomes_shadow" if item.shadow else "outcomes")


__all__ = ["CapturedFrame", "Inspected", "Pipeline", "Verdict"]
