"""What the routes share: settings, database, frame store, a lazily created Kafka producer, the MLflow
client and the product catalog."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from fastapi import Request

from api.db.engine import Database
from api.errors import UpstreamError
from api.frames.store import FrameStore, LocalFrameStore
from api.services.mlflow_registry import MlflowRegistry
from api.settings import ApiSettings
from factoryloop.errors import DeliveryError, KafkaUnavailableError
from factoryloop.kafka import EventProducer
from factoryloop.products import ProductCatalog
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: ApiSettings
    db: Database
    frames: FrameStore
    registry: MlflowRegistry
    products: ProductCatalog
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
        )

    def producer(self) -> EventProducer:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = EventProducer(
                        self.settings.kafka, bootstrap_timeout_s=5.0, max_block_ms=5000
                    )
                except KafkaUnavailableError as exc:
                    raise UpstreamError(f"Kafka is unavailable: {exc}") from exc
            return self._producer

    def publish(self, role: TopicRole, event: object, key: str | None = None) -> None:
        """Produce and wait for the acknowledgement; 503 if Kafka does not take it."""
        try:
            self.producer().send_sync(role, event, key=key, timeout_s=10.0)  # type: ignore[arg-type]
        except DeliveryError as exc:
            raise UpstreamError(f"Kafka did not acknowledge the {role.value} event: {exc}") from exc

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
        self.db.dispose()


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
