"""The metric names factoryloop's processes export, collected from their registries and collectors (not
listed by hand), for the tests that check deploy/prometheus and deploy/grafana name only real metrics; and a
scrape of a live ``/metrics`` endpoint."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

METRIC = re.compile(r"\b(factoryloop_[a-z0-9_]+)")

# The static names of edge_agent.heartbeat.agent_gauges (the ``queue_*`` ones depend on the pipeline). The
# agent's /metrics integration test checks this list against a running agent's scrape.
AGENT_GAUGES = (
    "buffer_records",
    "buffer_bytes",
    "buffer_evicted",
    "buffer_max_bytes",
    "frames_corrupt",
    "frames_stale",
    "source_reconnects",
    "camera_connected",
    "camera_frozen",
    "camera_brightness",
    "camera_blur_score",
    "trigger_reconnects",
    "ejector_pending",
)
AGENT_OPTIONAL_GAUGES = {"trigger_reconnects", "ejector_pending"}  # triggered stations only


def sample_names(families: Iterable[Any]) -> set[str]:
    """Every sample name a family may expose, with or without samples yet (a labelled counter has none
    until its first increment)."""
    out: set[str] = set()
    for f in families:
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
            "summary": ("_sum", "_count"),
        }
        out |= {f.name + s for s in suffixes.get(f.type, ("",))}
        if f.type == "summary":
            out.add(f.name)
        out |= {s.name for s in f.samples}
    return {n for n in out if n.startswith("factoryloop_")}


def agent_names() -> set[str]:
    from edge_agent.metrics import AgentCollector
    from edge_agent.stats import AgentStats

    stats = AgentStats()  # one of each labelled counter, so every family is named
    for key in (
        "verdict:FAIL",
        "defect:FAIL:dent",
        "models_rejected:signature",
        "sink_sent:plc",
        "sink_failures:plc",
    ):
        stats.incr(key)
    info = {"agent_id": "a", "line_id": "l", "station_id": "s", "product": "p", "model": "m", "version": "1"}
    collector = AgentCollector(stats, lambda: dict.fromkeys(AGENT_GAUGES, 0.0), lambda: info)
    return sample_names(collector.collect())


def api_names() -> set[str]:
    import api.metrics  # noqa: F401  (registers the API's and the sinks' metrics on the default registry)

    return sample_names(REGISTRY.collect())


def trainer_names() -> set[str]:
    """The trainer's registry as ``factoryloop train watch`` builds it (counters, the state collector and the
    ingest's), from a real queue and rollout controller that never connect."""
    from factoryloop.settings import KafkaSettings
    from training.ingest.metrics import IngestCollector
    from training.metrics import TrainerMetrics, TrainerStateCollector
    from training.registry import ModelRegistry
    from training.rollout.controller import RolloutController
    from training.rollout.policy import default_policies
    from training.settings import TrainSettings
    from training.triggers import RetrainQueue

    metrics = TrainerMetrics()
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    controller = RolloutController(
        kafka, ModelRegistry("http://127.0.0.1:9"), default_policies(TrainSettings())
    )
    metrics.registry.register(TrainerStateCollector(RetrainQueue(), controller))
    metrics.registry.register(IngestCollector(None))
    return sample_names(metrics.registry.collect())


def exported_names() -> set[str]:
    return agent_names() | api_names() | trainer_names()


def registry_names(registry: CollectorRegistry) -> set[str]:
    return sample_names(registry.collect())


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[str, float]:
    """``{sample name{labels sorted}: value}`` of a ``/metrics`` answer; fails on an invalid exposition or a
    family declared twice."""
    response = httpx.get(url, headers=headers, timeout=5)
    response.raise_for_status()
    families = list(text_string_to_metric_families(response.text))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), f"metric families declared twice: {names}"
    out: dict[str, float] = {}
    for family in families:
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def wait_for(
    url: str,
    ready: Callable[[dict[str, float]], bool],
    *,
    timeout_s: float,
    alive: Callable[[], str | None] = lambda: None,
) -> dict[str, float]:
    """Scrape ``url`` until ``ready(samples)``; ``alive()`` returns why to give up early (a process that
    exited: its log), else None. Fails with the last scrape (or error) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, float] | str = "never answered"
    while time.monotonic() < deadline:
        died = alive()
        assert died is None, died
        try:
            last = scrape(url)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if ready(last):
                return last
        time.sleep(0.5)
    raise AssertionError(f"{url} not as expected within {timeout_s:.0f} s; last scrape: {last}")


def total(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when there are none)."""
    want = [f"{k}={v}" for k, v in labels.items()]
    out = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base == name and all(w in rest.rstrip("}").split(",") for w in want):
            out += value
    return out
