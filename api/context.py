"""What the routes share: settings, database, frame store, a lazily created Kafka producer, Kafka's
reachability, the MLflow client and the product catalog."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from fastapi import Request

from api.db.engine import Database
from api.errors import UpstreamError
from api.frames.store import FrameStore, LocalFrameStore
from api.kafka_link import KafkaLink
from api.services.mlflow_registry import MlflowRegistry
from api.settings import ApiSettings
from factoryloop.errors import DeliveryError, KafkaUnavailableError
from factoryloop.kafka import EventProducer
from factoryloop.products import ProductCatalog
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_MS = 10_000  # a review or rollout request waits this long for Kafka's acknowledgement


@dataclass
class AppContext:
    settings: ApiSettings
    db: Database
    frames: FrameStore
    registry: MlflowRegistry
    products: ProductCatalog
    link: KafkaLink
    _producer: EventProducer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> AppContext:
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            frames=LocalFrameStore(settings.frames_dir),
            registry=MlflowRegistry(settings.mlflow_tracking_uri, settings.mlflow_timeout_s),
            products=ProductCatalog(settings.products_dir),  # None: default_catalog_root()
            link=KafkaLink(
                settings.kafka, probe_s=settings.kafka_probe_s, timeout_s=settings.kafka_timeout_s
            ),
        )

    def producer(self) -> EventProducer:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = EventProducer(
                        self.settings.kafka,
                        bootstrap_timeout_s=self.settings.kafka_timeout_s,
                        max_block_ms=5000,
                        # kafka-python needs it above linger + request timeout; a record not
                        # acknowledged in PUBLISH_TIMEOUT_MS is dropped with its producer anyway
                        delivery_timeout_ms=self.settings.kafka.request_timeout_ms + 5000,
                    )
                except KafkaUnavailableError as exc:
                    self.link.mark_down(str(exc))
                    raise UpstreamError(self._unavailable("cannot reach it")) from exc
            return self._producer

    def _unavailable(self, why: str) -> str:
        status = self.link.status()
        since = (
            ""
            if status.state != "down"
            else f" (no broker has answered since {status.since:%Y-%m-%d %H:%M:%S} UTC)"
        )
        return (
            f"Kafka at {status.bootstrap} is unavailable{since}: {why}. Nothing was saved; submit it again "
            "once Kafka answers (the dashboard banner disappears then)"
        )

    def _drop_producer(self) -> None:
        """Close the producer without delivering what it still holds (the caller was told it failed), so
        that a record answered with 503 is never delivered later; the next publish builds a new one."""
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout_s=0)
            except Exception:  # a producer that lost its brokers may fail to close; it is dropped anyway
                logger.debug("closing the failed producer raised", exc_info=True)

    def publish(self, role: TopicRole, event: object, key: str | None = None) -> None:
        """Produce and wait for the acknowledgement; 503 if Kafka does not take it.

        While the link is down (no broker answered the last check or delivery) this fails at once instead
        of waiting for a timeout; nothing is queued, so the caller's 503 means the event was not published.
        """
        if self.link.status().paused:
            raise UpstreamError(self._unavailable(f"the {role.value} event was not published"))
        try:
            self.producer().send_sync(role, event, key=key, timeout_s=PUBLISH_TIMEOUT_MS / 1000)  # type: ignore[arg-type]
        except DeliveryError as exc:
            self._drop_producer()
            self.link.mark_down(str(exc))
            raise UpstreamError(
                self._unavailable(f"it did not acknowledge the {role.value} event ({exc})")
            ) from exc
        self.link.mark_up()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
        self.db.dispose()


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
