"""Wires one edge agent together from its config and runs it until the source ends or it is stopped."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

from edge_agent.config import AgentConfig
from edge_agent.decide.rules import RuleSet
from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector
from edge_agent.errors import AgentConfigError
from edge_agent.health import CameraMonitor
from edge_agent.heartbeat import HeartbeatLoop
from edge_agent.models.compat import missing_classes, model_product, product_problem
from edge_agent.models.manager import LoadedModel, ModelManager
from edge_agent.models.store import ModelStore
from edge_agent.models.watcher import DeploymentWatcher
from edge_agent.pipeline import Pipeline
from edge_agent.publish.buffer import PRIO_EVENT, DiskBuffer
from edge_agent.publish.publisher import Publisher
from edge_agent.publish.sampling import Sampler
from edge_agent.settings import AgentSettings, get_settings
from edge_agent.sinks import SinkWorker, build_sink, sink_name
from edge_agent.sources import build_source
from edge_agent.sources.watchdog import WatchedSource
from edge_agent.stats import AgentStats
from factoryloop.schemas import AgentEvent, AgentEventType, Deployment, Heartbeat, ModelRef
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)


def _served(config: AgentConfig, model: LoadedModel, what: str) -> LoadedModel:
    missing = missing_classes(config.rules.classes, model.detector.class_names)
    if missing:
        logger.warning(
            "rules.classes names %s, not classes of the %s model %s (classes: %s)",
            ", ".join(missing),
            what,
            model.ref,
            ", ".join(model.detector.class_names),
        )
    logger.info("serving the %s model %s (product %s)", what, model.ref, model.product or "not said")
    return model


def initial_model(config: AgentConfig, options: DetectorOptions, store: ModelStore) -> LoadedModel:
    """The last good deployed model persisted on disk unless it is of another product than the agent's, else
    the model named in the config (:class:`AgentConfigError` when that one is of another product)."""
    stored = store.load()
    if stored is not None:
        opts = dataclasses.replace(options, imgsz=stored.imgsz, class_names=stored.class_names)
        det = OnnxDetector(stored.path, opts)
        product = model_product(det.metadata) or stored.product
        problem = product_problem(config.product, None, product)
        if problem is None:
            return _served(config, LoadedModel(det, stored.ref, stored.deployment_id, product), "persisted")
        logger.warning(
            "not serving the persisted model %s: %s; serving %s", stored.ref, problem, config.detector.onnx
        )
    det = OnnxDetector(config.detector.onnx, options)
    product = model_product(det.metadata)
    problem = product_problem(config.product, None, product)
    if problem is not None:
        raise AgentConfigError(str(config.detector.onnx), [f"product: {problem}"])
    ref = ModelRef(name=config.detector.onnx.stem, version="local", sha256=det.sha256)
    return _served(config, LoadedModel(det, ref, None, product), "configured")


class Agent:
    def __init__(self, config: AgentConfig, settings: AgentSettings | None = None) -> None:
        self.config = config
        self.settings = settings or get_settings()
        self.stats = AgentStats()
        self.kafka = config.kafka.settings()
        self.stop_event = threading.Event()
        d = config.detector
        self.options = DetectorOptions(
            imgsz=d.imgsz,
            threads=d.threads,
            class_names=d.class_names,
            conf=d.conf,
            iou=d.iou,
            max_det=d.max_det,
            warmup_runs=d.warmup_runs,
        )
        self.store = ModelStore(self.settings.state_dir)
        model = initial_model(config, self.options, self.store)
        model.detector.warmup()
        self.buffer = DiskBuffer(
            config.buffer.dir or self.settings.state_dir / "buffer", config.buffer.max_bytes
        )
        self.publisher = Publisher(
            self.kafka,
            self.buffer,
            self.stats,
            config.kafka.delivery_timeout_s,
            linger_ms=config.kafka.linger_ms,
        )
        self.models = ModelManager(
            model,
            self.options,
            self.store,
            self.settings,
            smoke_frames=config.deployments.smoke_frames,
            smoke_max_latency_ms=config.deployments.smoke_max_latency_ms,
            on_event=self._model_event,
            product=config.product,
            rule_classes=config.rules.classes,
        )
        self.watcher = (
            DeploymentWatcher(self.kafka, self.models, config.agent_id, config.line_id)
            if config.deployments.enabled
            else None
        )
        self.camera = CameraMonitor()
        self.source = WatchedSource(
            build_source(config.source),
            config.source.reconnect,
            self.stop_event,
            on_status=self._source_status,
            max_frames=config.source.max_frames,
        )
        self.sinks = [
            SinkWorker(build_sink(s, i), s.verdicts, s.queue_size, self.stats)
            for i, s in enumerate(config.sinks)
        ]
        self.pipeline = Pipeline(
            config,
            self.source,
            self.models,
            RuleSet(config.rules),
            Sampler(config.sampling),
            self.sinks,
            self.publisher,
            self.stats,
            self.camera,
        )
        self.heartbeats = HeartbeatLoop(self.heartbeat, self.publisher, config.heartbeat_interval_s)
        self._metrics_server: Any = None
        self._closed = False

    @property
    def station(self) -> dict[str, str]:
        c = self.config
        return {"line_id": c.line_id, "station_id": c.station_id, "agent_id": c.agent_id}

    def _event(
        self,
        kind: AgentEventType,
        detail: str = "",
        dep: Deployment | None = None,
        model: ModelRef | None = None,
    ) -> None:
        event = AgentEvent(
            **self.station,
            type=kind,
            detail=detail[:4000],
            deployment_id=dep.deployment_id if dep else None,
            model=model,
        )
        self.publisher.publish(TopicRole.HEARTBEATS, event, PRIO_EVENT)

    def _model_event(
        self,
        kind: AgentEventType,
        dep: Deployment | None,
        ref: ModelRef | None,
        detail: str,
        reason: str | None,
    ) -> None:
        if kind is AgentEventType.MODEL_REJECTED:
            self.stats.incr("errors")
            self.stats.incr("models_rejected")
            self.stats.incr(f"models_rejected:{reason or 'other'}")
        self._event(kind, detail, dep, ref)

    def _source_status(self, connected: bool, detail: str) -> None:
        if not connected:
            self.stats.incr("source_down")
        self._event(AgentEventType.SOURCE_UP if connected else AgentEventType.SOURCE_DOWN, detail)

    def heartbeat(self) -> Heartbeat:
        s = self.stats
        p50, p99 = s.decision_ms.percentiles(50, 99)
        r50, r99 = s.reject_ms.percentiles(50, 99)
        uptime = time.monotonic() - self.pipeline.started_mono
        src = self.source.stats
        shadow = self.models.shadow
        return Heartbeat(
            **self.station,
            product=self.models.product,
            model=self.models.current.ref,
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
            frames_corrupt=src.corrupt,
            queue_depths=self.pipeline.queue_depths(),
            buffer_records=self.buffer.count,
            buffer_bytes=self.buffer.bytes,
            buffer_evicted=self.buffer.evicted,
            sink_failures=s.with_prefix("sink_failures:"),
            errors=s.get("errors"),
            verdicts=s.with_prefix("verdict:"),
            camera=self.camera.snapshot(src.connected, src.reconnects),
            last_model_error=(self.models.last_error or "")[:2000] or None,
            models_rejected=s.with_prefix("models_rejected:"),
        )

    def gauges(self) -> dict[str, float]:
        return {
            "buffer_records": self.buffer.count,
            "buffer_bytes": self.buffer.bytes,
            "buffer_evicted": self.buffer.evicted,
            "frames_corrupt": self.source.stats.corrupt,
            "source_reconnects": self.source.stats.reconnects,
            **{f"queue_{k.replace(':', '_')}": v for k, v in self.pipeline.queue_depths().items()},
        }

    def start(self) -> None:
        if self.config.metrics_port is not None:
            from edge_agent.metrics import serve_metrics

            self._metrics_server = serve_metrics(self.config.metrics_port, self.stats, self.gauges)
        self.publisher.start()
        for sink in self.sinks:
            sink.start()
        self._event(
            AgentEventType.STARTED, f"model {self.models.current.ref.name}:{self.models.current.ref.version}"
        )
        if self.watcher is not None:
            self.watcher.start()
        self.pipeline.start()
        self.heartbeats.start()
        logger.info(
            "agent %s started on %s/%s", self.config.agent_id, self.config.line_id, self.config.station_id
        )

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the source ends (or ``stop``); True when the pipeline has drained."""
        return self.pipeline.join(timeout_s)

    def stop(self) -> None:
        """Ask the capture to stop; frames already captured are still inspected and published."""
        self.stop_event.set()

    def close(self, timeout_s: float = 15.0) -> None:
        """Graceful shutdown: stop capture, drain the pipeline, flush Kafka, close the buffer."""
        if self._closed:
            return
        self._closed = True
        self.stop_event.set()
        self.pipeline.join(timeout_s)
        self.heartbeats.stop()
        if self.watcher is not None:
            self.watcher.stop()
        for sink in self.sinks:
            sink.close()
        try:
            self.heartbeats.beat()
            self._event(AgentEventType.STOPPED, "graceful shutdown")
        except Exception:
            logger.exception("final heartbeat failed")
        self.publisher.close(timeout_s)
        self.buffer.close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        logger.info("agent %s stopped; %d records left buffered", self.config.agent_id, self.buffer.count)

    def sink_names(self) -> list[str]:
        return [sink_name(s, i) for i, s in enumerate(self.config.sinks)]
