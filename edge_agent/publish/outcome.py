"""The publish thread's work for one inspected frame: its sampled JPEG (frames topic) and its outcome."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from edge_agent.config import AgentConfig
from edge_agent.decide.rules import RuleSet
from edge_agent.inflight import Inspected
from edge_agent.publish.buffer import PRIO_OUTCOME
from edge_agent.publish.publisher import Publisher
from edge_agent.publish.sampling import PRIORITY_OF_REASON
from edge_agent.stats import AgentStats
from factoryloop.schemas import FrameMeta, Outcome
from factoryloop.topics import TopicRole


def publish_inspected(
    cfg: AgentConfig, rules: RuleSet, publisher: Publisher, stats: AgentStats, item: Inspected
) -> None:
    frame = item.frame
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
            publisher.publish(TopicRole.FRAMES, meta, PRIORITY_OF_REASON[item.sample_reason], jpeg)
            stats.incr("frames_sent")
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
        thresholds=rules.thresholds(item.model.detector.class_names),
        latency=item.latency,
        frame_sha256=frame_sha or hashlib.sha256(np.ascontiguousarray(frame.image).data).hexdigest(),
        frame_width=w,
        frame_height=h,
        frame_sent=frame_sha is not None,
        sample_reason=item.sample_reason if frame_sha else None,
        shadow=item.shadow,
        source_frame_index=frame.source_index,
    )
    publisher.publish(TopicRole.OUTCOMES, outcome, PRIO_OUTCOME)
    stats.incr("outcomes_shadow" if item.shadow else "outcomes")
