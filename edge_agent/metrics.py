"""Prometheus ``/metrics``: a collector that reads the agent's counters at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from edge_agent.stats import AgentStats

# AgentStats counters (``factoryloop_agent_<name>_total``); each name once across counters and gauges.
_COUNTERS = (
    "frames_captured",
    "frames_inspected",
    "frames_dropped",
    "frames_sent",
    "outcomes",
    "outcomes_shadow",
    "shadow_inspected",
    "shadow_dropped",
    "published",
    "publish_failures",
    "buffered",
    "drained",
    "errors",
    "inference_errors",
    "models_rejected",
    "source_down",
    "parts_triggered",
    "parts_without_frame",
    "rejects_fired",
    "late_rejects",
    "missed_parts",
    "trigger_down",
)
# Values of the agent's ``gauges()`` callable that only ever grow: exported as counters too.
_MONOTONIC = frozenset(
    {"frames_corrupt", "frames_stale", "source_reconnects", "buffer_evicted", "trigger_reconnects"}
)


class AgentCollector(Collector):
    def __init__(
        self,
        stats: AgentStats,
        gauges: Callable[[], dict[str, float]],
        info: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        """``info``: labels of ``factoryloop_agent_info`` (agent, line, station, product, model, version)."""
        self.stats = stats
        self.gauges = gauges
        self.info = info

    def collect(self) -> Iterator[Any]:
        snap = self.stats.snapshot()
        for name in _COUNTERS:
            yield CounterMetricFamily(
                f"factoryloop_agent_{name}", name.replace("_", " "), value=snap.get(name, 0)
            )
        verdicts = CounterMetricFamily("factoryloop_agent_verdicts", "verdicts", labels=["verdict"])
        for key, value in self.stats.with_prefix("verdict:").items():
            verdicts.add_metric([key], value)
        yield verdicts
        defects = CounterMetricFamily(
            "factoryloop_agent_defects",
            "Inspected frames whose verdict (FAIL, UNCERTAIN) this class made",
            labels=["verdict", "class"],
        )
        for key, value in self.stats.with_prefix("defect:").items():
            verdict, _, name = key.partition(":")
            defects.add_metric([verdict, name], value)
        yield defects
        if self.info is not None:
            labels = self.info()
            info = GaugeMetricFamily(
                "factoryloop_agent_info", "The agent and the model it serves", labels=list(labels)
            )
            info.add_metric(list(labels.values()), 1)
            yield info
        rejected = CounterMetricFamily(
            "factoryloop_agent_models_rejected_by_reason", "deployments refused per reason", labels=["reason"]
        )
        for key, value in self.stats.with_prefix("models_rejected:").items():
            rejected.add_metric([key], value)
        yield rejected
        for kind in ("sent", "failures"):
            sinks = CounterMetricFamily(f"factoryloop_agent_sink_{kind}", f"sink {kind}", labels=["sink"])
            for key, value in self.stats.with_prefix(f"sink_{kind}:").items():
                sinks.add_metric([key], value)
            yield sinks
        for name, window in (
            ("inference", self.stats.inference_ms),
            ("decision", self.stats.decision_ms),
            ("reject", self.stats.reject_ms),
        ):
            g = GaugeMetricFamily(
                f"factoryloop_agent_{name}_latency_ms", f"{name} latency", labels=["quantile"]
            )
            for q, v in zip(("0.5", "0.99"), window.percentiles(50, 99), strict=True):
                if v is not None:
                    g.add_metric([q], v)
            yield g
        for gname, gvalue in self.gauges().items():
            family = CounterMetricFamily if gname in _MONOTONIC else GaugeMetricFamily
            yield family(f"factoryloop_agent_{gname}", gname.replace("_", " "), value=gvalue)


def serve_metrics(
    port: int,
    stats: AgentStats,
    gauges: Callable[[], dict[str, float]],
    info: Callable[[], dict[str, str]] | None = None,
) -> Any:
    """Serve ``/metrics`` on ``port``; returns the HTTP server (``shutdown()`` to stop)."""
    registry = CollectorRegistry()
    registry.register(AgentCollector(stats, gauges, info))
    server, _thread = start_http_server(port, registry=registry)
    return server
