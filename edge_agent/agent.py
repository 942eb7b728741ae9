"""Wires one edge agent together from its config and runs it until the source ends or it is stopped."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

from edge_agent.config import AgentConfig
from edge_agent.decide.rules import RuleSet
from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector
from edge_agent.errors import AgentConfigError
from edge_agent.health import CameraMonitor
from edge_agent.heartbeat import HeartbeatLoop, agent_gauges, agent_info, build_heartbeat
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
from edge_agent.station import Ejector
from edge_agent.station.build import build_station
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
        # a triggered station stops its cameras itself, after its last part (see TriggeredCapture)
        self.camera_stop = threading.Event() if config.trigger is not None else self.stop_event
        self.sources = [
            WatchedSource(
                build_source(c),
                c.reconnect,
                self.camera_stop,
                on_status=self._source_status,
                max_frames=c.max_frames,
            )
            for c in config.cameras
        ]
        self.source = self.sources[0]
        self.sinks = [
            SinkWorker(build_sink(s, i), s.verdicts, s.queue_size, self.stats)
            for i, s in enumerate(config.sinks)
        ]
        self.triggered = build_station(
            config,
            self.sources,
            self.sinks,
            self.stats,
            self.stop_event,
            self.camera_stop,
            self._trigger_status,
        )
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
            self.triggered,
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

    def _trigger_status(self, connected: bool, detail: str) -> None:
        if not connected:
            self.stats.incr("trigger_down")
            logger.warning("part trigger down: %s", detail)

    @property
    def ejector(self) -> Ejector | None:
        return self.triggered.ejector if self.triggered is not None else None

    def heartbeat(self) -> Heartbeat:
        return build_heartbeat(self)

    def gauges(self) -> dict[str, float]:
        return agent_gauges(self)

    def start(self) -> None:
        if self.config.metrics_port is not None:
            from edge_agent.metrics import serve_metrics

            self._metrics_server = serve_metrics(
                self.config.metrics_port, self.stats, self.gauges, lambda: agent_info(self)
            )
        self.publisher.start()
        for sink in self.sinks:
            sink.start()
        if self.ejector is not None:
            self.ejector.start()
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
        if self.ejector is not None:
            self.ejector.close()  # the parts still between camera and ejector, before the sinks close
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
