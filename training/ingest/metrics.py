"""The ingest's Prometheus metrics (``factoryloop_ingest_*``), read from the :class:`Ingestor` at scrape time.

Served by ``factoryloop train ingest --metrics-port`` and, with the trainer's own metrics, by ``factoryloop
train watch`` (the trainer runs the ingest). Names are the contract of deploy/prometheus and deploy/grafana
(tests/unit/deploy/test_grafana_dashboards.py reads them from this collector).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from training.ingest.consumer import Ingestor

STORED_KINDS = ("frame", "prediction", "label")
DROP_REASONS = ("duplicate", "shadow", "frame_not_sent", "unknown_event", "dead_letter")


class IngestCollector(Collector):
    """``ingestor``'s counters at each scrape; None: the families without samples (:meth:`describe`)."""

    def __init__(self, ingestor: Ingestor | None) -> None:
        self.ingestor = ingestor

    def describe(self) -> Iterator[Any]:
        """The families this collector yields (names and types, no samples): for registries and tests."""
        return IngestCollector(None).collect()

    def collect(self) -> Iterator[Any]:
        ing = self.ingestor
        consumed = CounterMetricFamily(
            "factoryloop_ingest_consumed",
            "Records polled from Kafka and stored, per topic role",
            labels=["role"],
        )
        stored = CounterMetricFamily(
            "factoryloop_ingest_stored",
            "Events written to the dataset store: frames, predictions (outcomes) and labels (reviews)",
            labels=["kind"],
        )
        dropped = CounterMetricFamily(
            "factoryloop_ingest_dropped",
            "Events not stored, per reason (duplicate, shadow outcome, frame not sent, unknown event, "
            "undecodable: dead-lettered)",
            labels=["reason"],
        )
        lag = GaugeMetricFamily(
            "factoryloop_ingest_lag_records",
            "Records written to Kafka and not read yet by this ingest, per topic role",
            labels=["role"],
        )
        last = GaugeMetricFamily(
            "factoryloop_ingest_last_batch_timestamp_seconds", "When the last batch was stored (Unix time)"
        )
        parked = CounterMetricFamily(
            "factoryloop_ingest_parked", "Events parked until their frame (or a review's outcome) arrives"
        )
        batches = CounterMetricFamily("factoryloop_ingest_batches", "Batches stored and committed")
        if ing is not None:
            stats = ing.stats
            for role, n in dict(ing.consumed).items():
                consumed.add_metric([role], n)
            for kind, n in zip(STORED_KINDS, (stats.frames, stats.predictions, stats.labels), strict=True):
                stored.add_metric([kind], n)
            counts = dict(stats.dropped)
            counts["dead_letter"] = ing.consumer.dead_lettered
            for reason in DROP_REASONS:
                dropped.add_metric([reason], counts.get(reason, 0))
            for role, n in dict(ing.lag).items():
                lag.add_metric([role], n)
            if ing.last_batch_at is not None:
                last.add_metric([], ing.last_batch_at)
            parked.add_metric([], stats.parked)
            batches.add_metric([], ing.batches)
        yield from (consumed, stored, dropped, parked, batches, lag, last)
