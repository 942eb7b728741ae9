"""Whether a Kafka broker answers, as the API process sees it.

The API serves what its database holds whether or not Kafka answers. :class:`KafkaLink` keeps the state the
dashboard banner, ``GET /health`` and the write routes read: a background thread asks the cluster for its
metadata every ``probe_s`` seconds (a real request, so TLS and SASL are exercised like the clients'), and the
producer and the sink report what they see (a delivery that fails marks Kafka down at once; only a probe or an
acknowledged delivery marks it up again).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from kafka import KafkaAdminClient

from api import metrics
from factoryloop.settings import KafkaSettings

logger = logging.getLogger(__name__)

State = Literal["unknown", "up", "down"]


@dataclass(frozen=True, slots=True)
class KafkaStatus:
    state: State  # unknown: not checked yet (the first check runs at startup, in the background)
    since: datetime  # when this state began (UTC)
    bootstrap: str
    error: str | None  # why it is down

    @property
    def paused(self) -> bool:
        """True while live data is paused: no broker answered the last check or the last delivery."""
        return self.state == "down"


class QuietWhileDown(logging.Filter):
    """A handler filter dropping kafka-python's records below CRITICAL while ``link`` is down: its clients
    log each failed connection attempt (several a second), the link says it once ("does not answer ...
    live data paused"). ``factoryloop api serve`` puts it on the root handlers; loggers are left alone, so
    whoever listens on the ``kafka`` loggers themselves (connection diagnostics) still hears everything."""

    def __init__(self, link: KafkaLink) -> None:
        super().__init__()
        self.link = link

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "kafka" and not record.name.startswith("kafka."):
            return True
        return record.levelno >= logging.CRITICAL or not self.link.status().paused


class KafkaLink:
    """Kafka's reachability, checked in a thread; thread-safe.

    ``probe``: the check (raises when no broker answers); the default asks the cluster for its description
    with one long-lived admin client, rebuilt after a failure.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        probe_s: float = 5.0,
        timeout_s: float = 3.0,
        probe: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.probe_s = probe_s
        self.timeout_s = timeout_s
        self._probe = probe or self._describe_cluster
        self._admin: Any = None
        self._lock = threading.Lock()
        self._status = KafkaStatus("unknown", datetime.now(UTC), settings.bootstrap_servers, None)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._up = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> KafkaStatus:
        with self._lock:
            return self._status

    def _set(self, state: State, error: str | None) -> None:
        with self._lock:
            old = self._status
            if old.state == state:
                if error is not None and error != old.error:
                    self._status = KafkaStatus(state, old.since, old.bootstrap, error)
                return
            # Down from the start: no broker has answered since the process started.
            since = old.since if old.state == "unknown" else datetime.now(UTC)
            self._status = KafkaStatus(state, since, old.bootstrap, error)
        metrics.KAFKA_UP.set(1 if state == "up" else 0)
        if state == "up":
            self._up.set()
            logger.info("Kafka at %s answers again: live data resumes", old.bootstrap)
        else:
            self._up.clear()
            logger.warning("Kafka at %s does not answer (%s): live data paused", old.bootstrap, error)

    def mark_up(self) -> None:
        self._set("up", None)

    def mark_down(self, error: str) -> None:
        """A client could not reach Kafka; the watcher is asked to check again soon."""
        self._set("down", error)
        self._wake.set()

    def wait_up(self, timeout_s: float) -> bool:
        return self._up.wait(timeout_s)

    def _describe_cluster(self) -> None:
        if self._admin is None:
            config = {**self.settings.client_config(), "request_timeout_ms": int(self.timeout_s * 1000)}
            config["client_id"] = f"{self.settings.client_id}-api-watch"
            self._admin = KafkaAdminClient(**config, bootstrap_timeout_ms=int(self.timeout_s * 1000))
        self._admin.describe_cluster()

    def _close_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            try:
                admin.close()
            except Exception:  # a client that lost its broker may fail to close; it is dropped anyway
                logger.debug("closing the Kafka watch client failed", exc_info=True)

    def check(self) -> bool:
        """Check once now; returns whether a broker answered."""
        try:
            self._probe()
        except Exception as exc:  # kafka-python raises KafkaError subclasses, OSError or ValueError
            self._close_admin()
            self._set("down", f"{type(exc).__name__}: {exc}")
            return False
        self._set("up", None)
        return True

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.check()
                self._wake.wait(self.probe_s)
                self._wake.clear()
        finally:
            self._close_admin()

    def start(self) -> None:
        """Check in a daemon thread every ``probe_s`` seconds until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="api-kafka-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 0.1) -> None:
        """Stop checking. An idle watcher ends at once; one in the middle of a probe of a broker that does
        not answer would hold the API's shutdown for up to the link's ``timeout_s`` (its client's bootstrap
        retries until then): it is left to end on its daemon thread, which closes its client on the way
        out."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.debug(
                    "Kafka watch still probing %s: left to end on its own", self.settings.bootstrap_servers
                )
