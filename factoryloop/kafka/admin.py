"""Create factoryloop's topics with explicit partitions and configs (idempotent)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from factoryloop.errors import KafkaAuthError, KafkaUnavailableError
from factoryloop.kafka.diagnose import connect_error, explained
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TOPIC_SPECS, TopicSpec

logger = logging.getLogger(__name__)


def admin_client(settings: KafkaSettings, timeout_s: float = 15.0) -> KafkaAdminClient:
    with explained(settings) as log:
        try:
            return KafkaAdminClient(**settings.client_config(), bootstrap_timeout_ms=int(timeout_s * 1000))
        except KafkaError as exc:
            error = connect_error(settings, "for an admin client", exc, log)
            if not isinstance(error, KafkaAuthError):
                error = KafkaUnavailableError(
                    f"{error}. Start it with 'factoryloop stack up' or set "
                    "FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS to your cluster"
                )
            raise error from exc


def wait_for_cluster(settings: KafkaSettings, timeout_s: float = 60.0) -> None:
    """Block until a metadata request succeeds, or raise :class:`KafkaUnavailableError`."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client = admin_client(settings, timeout_s=min(5.0, max(0.5, deadline - time.monotonic())))
            try:
                client.list_topics()
                return
            finally:
                client.close()
        except KafkaAuthError:
            raise  # retrying cannot fix a refused password or certificate
        except (KafkaUnavailableError, KafkaError) as exc:
            last = exc
            time.sleep(0.5)
    raise KafkaUnavailableError(
        f"Kafka at {settings.bootstrap_servers} not ready after {timeout_s:.0f}s: {last}"
    )


def ensure_topics(
    settings: KafkaSettings,
    specs: Iterable[TopicSpec] | None = None,
    *,
    replication_factor: int = 1,
    prefix: str | None = None,
) -> list[str]:
    """Create each topic that does not exist yet; return the names of the topics created.

    Existing topics are left as they are (their partitions and configs are not changed).
    """
    specs = list(specs if specs is not None else TOPIC_SPECS.values())
    prefix = settings.topic_prefix if prefix is None else prefix
    client = admin_client(settings)
    try:
        existing = set(client.list_topics())
        wanted = {
            spec.name(prefix): {
                "num_partitions": spec.partitions,
                "replication_factor": replication_factor,
                "configs": dict(spec.configs),
            }
            for spec in specs
            if spec.name(prefix) not in existing
        }
        if not wanted:
            return []
        try:
            client.create_topics(wanted, timeout_ms=30_000, wait_for_metadata=True)
        except TopicAlreadyExistsError:
            logger.info("topics created concurrently by another process: %s", sorted(wanted))
        logger.info("created topics %s (replication factor %d)", sorted(wanted), replication_factor)
        return sorted(wanted)
    finally:
        client.close()
