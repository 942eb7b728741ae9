"""An event producer: acks=all + idempotence, sized for frames, and delivery errors that cannot be missed.

``send`` returns kafka-python's future; failures are also counted and passed to ``on_error`` so a caller that
does not wait still learns about them. ``send_sync`` waits and raises :class:`DeliveryError`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaConfigurationError, KafkaError, KafkaTimeoutError
from kafka.producer.future import FutureRecordMetadata
from pydantic import BaseModel

from factoryloop.errors import ConfigError, DeliveryError
from factoryloop.kafka.diagnose import connect_error, explained, not_authorized
from factoryloop.schemas.codec import encode, encode_frame
from factoryloop.schemas.frames import FrameMeta
from factoryloop.settings import KafkaSettings
from factoryloop.topics import FRAME_MAX_BYTES, TopicRole

logger = logging.getLogger(__name__)

ErrorCallback = Callable[[str, BaseException], None]


def schema_headers(event: BaseModel) -> list[tuple[str, bytes]]:
    kind = getattr(event, "kind", type(event).__name__)
    version = getattr(event, "schema_version", 1)
    return [("fl-kind", str(kind).encode()), ("fl-schema-version", str(version).encode())]


class EventProducer:
    """Publishes factoryloop events. Thread-safe (kafka-python's producer is)."""

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        on_error: ErrorCallback | None = None,
        linger_ms: int = 5,
        max_block_ms: int = 10_000,
        delivery_timeout_ms: int = 120_000,
        bootstrap_timeout_s: float = 10.0,
        **overrides: Any,
    ) -> None:
        self.settings = settings
        self.topics = settings.topics
        self._on_error = on_error
        self._lock = threading.Lock()
        self.failed = 0
        config: dict[str, Any] = {
            **settings.client_config(),
            # Set deliberately: with enable_idempotence=True, kafka-python raises on a conflicting
            # acks/retries instead of silently turning idempotence off.
            "acks": "all",
            "enable_idempotence": True,
            "max_in_flight_requests_per_connection": 5,
            "linger_ms": linger_ms,
            "batch_size": 256 * 1024,
            "max_request_size": FRAME_MAX_BYTES,
            "max_block_ms": max_block_ms,
            "delivery_timeout_ms": delivery_timeout_ms,
            "bootstrap_timeout_ms": int(bootstrap_timeout_s * 1000),
            **overrides,
        }
        with explained(settings) as log:
            try:
                self._producer = KafkaProducer(**config)
            except KafkaConfigurationError as exc:
                raise ConfigError(f"invalid Kafka producer configuration: {exc}") from exc
            except KafkaError as exc:
                raise connect_error(settings, "to create a producer", exc, log) from exc

    @property
    def idempotent(self) -> bool:
        return bool(self._producer.config["enable_idempotence"])

    def _failed(self, topic: str, exc: BaseException) -> None:
        with self._lock:
            self.failed += 1
        refused = not_authorized(self.settings, topic, exc)
        logger.error("delivery to %s failed: %s", topic, refused if refused is not None else repr(exc))
        if self._on_error is not None:
            self._on_error(topic, exc)

    def send_raw(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: str | bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> FutureRecordMetadata:
        key_bytes = key.encode() if isinstance(key, str) else key
        try:
            future = self._producer.send(topic, value=value, key=key_bytes, headers=headers or [])
        except KafkaTimeoutError as exc:
            # The record never entered the producer's buffer (metadata or buffer space unavailable).
            self._failed(topic, exc)
            raise DeliveryError(f"could not enqueue a record for {topic}: {exc}") from exc
        future.add_errback(lambda exc: self._failed(topic, exc))
        return future

    def send(
        self, role: TopicRole, event: BaseModel, *, key: str | None = None, jpeg: bytes | None = None
    ) -> FutureRecordMetadata:
        """Send one event to the topic of ``role``.

        Frames need ``jpeg``; the key defaults to the event's station key.
        """
        if isinstance(event, FrameMeta):
            if jpeg is None:
                raise ValueError("a frame event needs its JPEG bytes")
            value = encode_frame(event, jpeg)
        else:
            value = encode(event)
        if key is None:
            key = getattr(event, "station_key", None)
        return self.send_raw(self.topics[role], value, key=key, headers=schema_headers(event))

    def send_sync(
        self,
        role: TopicRole,
        event: BaseModel,
        *,
        key: str | None = None,
        jpeg: bytes | None = None,
        timeout_s: float = 30.0,
    ) -> Any:
        """Send and wait for the acknowledgement; raise :class:`DeliveryError` if it does not come."""
        future = self.send(role, event, key=key, jpeg=jpeg)
        try:
            return future.get(timeout=timeout_s)
        except KafkaError as exc:
            refused = not_authorized(self.settings, self.topics[role], exc)
            if refused is not None:
                raise refused from exc
            raise DeliveryError(f"{self.topics[role]}: record not acknowledged: {exc!r}") from exc

    def flush(self, timeout_s: float | None = None) -> None:
        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaTimeoutError as exc:
            raise DeliveryError(f"flush did not complete in {timeout_s}s: {exc}") from exc

    def close(self, timeout_s: float = 10.0) -> None:
        self._producer.close(timeout=timeout_s)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
