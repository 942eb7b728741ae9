"""Prometheus metrics of the API process (module-level: one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from factoryloop.schemas import RolloutAction

SINK_EVENTS = Counter("factoryloop_api_sink_events_total", "Events received by the sink", ["role"])
SINK_INSERTED = Counter(
    "factoryloop_api_sink_inserted_total", "Event rows newly stored (duplicates excluded)"
)
SINK_DEAD_LETTERS = Counter(
    "factoryloop_api_sink_dead_letters_total", "Records the sink sent to dead letters"
)
SINK_ERRORS = Counter("factoryloop_api_sink_errors_total", "Failed sink batches (retried)")
SINK_BATCH_SECONDS = Histogram(
    "factoryloop_api_sink_batch_seconds",
    "Time to write one batch",
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
)
SINK_REOPENS = Counter(
    "factoryloop_api_sink_consumer_reopens_total",
    "Sink consumers opened again after polling nothing while behind",
)
SINK_RUNNING = Gauge("factoryloop_api_sink_running", "1 while the sink loop runs")
SINK_LAG = Gauge(
    "factoryloop_api_sink_lag_records",
    "Records written to Kafka and not read yet by this sink process, per topic role (its partitions)",
    ["role"],
)
SINK_LAST_BATCH = Gauge(
    "factoryloop_api_sink_last_batch_timestamp_seconds", "When this sink last stored a batch (Unix time)"
)
REVIEW_QUEUE = Gauge(
    "factoryloop_api_review_queue_items",
    "Inspections waiting for review, per product (read at scrape)",
    ["product"],
)
KAFKA_UP = Gauge("factoryloop_api_kafka_up", "1 while a Kafka broker answers the API's checks")
HTTP_REQUESTS = Counter("factoryloop_api_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_SECONDS = Histogram("factoryloop_api_http_request_seconds", "HTTP request latency", ["route"])
LABELS_PUBLISHED = Counter("factoryloop_api_labels_published_total", "Label events produced by reviews")
ROLLOUT_REQUESTS = Counter(
    "factoryloop_api_rollout_requests_total", "Rollout requests published (deploy, rollback)", ["action"]
)
for _action in RolloutAction:  # at 0 from the start: Prometheus sees no increase in a series born at 1
    ROLLOUT_REQUESTS.labels(_action.value)
REVIEW_SECONDS = Histogram(
    "factoryloop_api_review_seconds",
    "Time a reviewer took per review (from showing the frame to the submit), when measured",
    buckets=(2, 5, 10, 20, 30, 60, 120, 300, 900, 3600),
)
