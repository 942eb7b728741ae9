"""Periodic :class:`Heartbeat` on the heartbeats topic: throughput, latency, queues, buffer, model, camera."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from edge_agent.publish.buffer import PRIO_HEARTBEAT
from edge_agent.publish.publisher import Publisher
from factoryloop.schemas import Heartbeat
from factoryloop.topics import TopicRole

if TYPE_CHECKING:
    from edge_agent.agent import Agent

logger = logging.getLogger(__name__)


def build_heartbeat(agent: Agent) -> Heartbeat:
    """The agent's state now: counters since start, latency windows, queues, buffer, model, camera."""
    s = agent.stats
    p50, p99 = s.decision_ms.percentiles(50, 99)
    r50, r99 = s.reject_ms.percentiles(50, 99)
    uptime = time.monotonic() - agent.pipeline.started_mono
    src = agent.source.stats
    shadow = agent.models.shadow
    return Heartbeat(
        **agent.station,
        product=agent.models.product,
        model=agent.models.current.ref,
        shadow_model=shadow.model.ref if shadow else None,
        uptime_s=uptime,
        fps=s.get("frames_inspected") / uptime if uptime > 0 else 0.0,
        latency_p50_ms=p50,
        latency_p99_ms=p99,
        reject_latency_p50_ms=r50,
        reject_latency_p99_ms=r99,
        frames_captured=s.get("frames_captured"),
        frames_inspected=s.get("frames_inspected"),
        frames_dropped=s.get("frames_dropped"),
        frames_corrupt=sum(w.stats.corrupt for w in agent.sources),
        frames_stale=stale_frames(agent),
        queue_depths=agent.pipeline.queue_depths(),
        buffer_records=agent.buffer.count,
        buffer_bytes=agent.buffer.bytes,
        buffer_evicted=agent.buffer.evicted,
        buffer_max_bytes=agent.buffer.max_bytes,
        sink_failures=s.with_prefix("sink_failures:"),
        errors=s.get("errors"),
        verdicts=s.with_prefix("verdict:"),
        camera=agent.camera.snapshot(src.connected, src.reconnects),
        last_model_error=(agent.models.last_error or "")[:2000] or None,
        models_rejected=s.with_prefix("models_rejected:"),
        parts_triggered=s.get("parts_triggered"),
        late_rejects=s.get("late_rejects"),
        missed_parts=s.get("missed_parts"),
    )


def agent_info(agent: Agent) -> dict[str, str]:
    """Labels of ``factoryloop_agent_info``: who the agent is and the model it serves now."""
    ref = agent.models.current.ref
    return {**agent.station, "product": agent.models.product or "", "model": ref.name, "version": ref.version}


def stale_frames(agent: Agent) -> int:
    """Frames the live cameras (OpenCV streams, GigE in free run) replaced before they were read."""
    return sum(int(getattr(w.source, "stale_dropped", 0)) for w in agent.sources)


def agent_gauges(agent: Agent) -> dict[str, float]:
    """Values read at /metrics scrape time (beside the counters of ``agent.stats``)."""
    out: dict[str, float] = {
        "buffer_records": agent.buffer.count,
        "buffer_bytes": agent.buffer.bytes,
        "buffer_evicted": agent.buffer.evicted,
        "frames_corrupt": sum(w.stats.corrupt for w in agent.sources),
        "frames_stale": stale_frames(agent),
        "source_reconnects": sum(w.stats.reconnects for w in agent.sources),
        "buffer_max_bytes": agent.buffer.max_bytes,
    }
    camera = agent.camera.snapshot(agent.source.stats.connected, agent.source.stats.reconnects)
    out["camera_connected"] = float(camera.connected)
    out["camera_frozen"] = float(camera.frozen)
    if camera.brightness is not None:
        out["camera_brightness"] = camera.brightness
    if camera.blur_score is not None:
        out["camera_blur_score"] = camera.blur_score
    if agent.triggered is not None:
        out["trigger_reconnects"] = agent.triggered.capture.trigger.stats.reconnects
    if agent.ejector is not None:
        out["ejector_pending"] = len(agent.ejector.tracker)
    out.update({f"queue_{k.replace(':', '_')}": v for k, v in agent.pipeline.queue_depths().items()})
    return out


class HeartbeatLoop:
    def __init__(self, build: Callable[[], Heartbeat], publisher: Publisher, interval_s: float) -> None:
        self.build = build
        self.publisher = publisher
        self.interval_s = interval_s
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def beat(self) -> Heartbeat:
        hb = self.build()
        self.publisher.publish(TopicRole.HEARTBEATS, hb, PRIO_HEARTBEAT)
        self.sent += 1
        return hb

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval_s
            try:
                self.beat()
            except Exception:
                logger.exception("heartbeat failed")

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)
