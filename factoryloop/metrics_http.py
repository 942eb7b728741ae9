"""``/metrics`` for the long-running processes without an HTTP server of their own (trainer, sink, ingest).

Each process builds its own :class:`~prometheus_client.CollectorRegistry` (:func:`process_registry`: the
process' CPU, memory and file descriptors, Python's GC, plus what the process registers) and serves it on its
``--metrics-port`` (0: no endpoint). The agents serve theirs from ``edge_agent.metrics``, the API from its own
HTTP port (``/metrics``, token required). Ports, scrape configuration, dashboards and alert rules:
docs/operations.md "Monitoring".
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from factoryloop.errors import ConfigError

logger = logging.getLogger(__name__)


def process_registry() -> CollectorRegistry:
    """A registry with the standard process, platform and GC metrics (``process_*``, ``python_*``)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class MetricsServer:
    """A running ``/metrics`` endpoint; :meth:`close` stops it."""

    def __init__(self, server: Any, port: int) -> None:
        self._server = server
        self.port = port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_metrics(
    port: int, registry: CollectorRegistry, *, what: str, setting: str, addr: str = "0.0.0.0"
) -> MetricsServer | None:
    """Serve ``registry`` on ``addr:port`` in a daemon thread; None when ``port`` is 0.

    ``what`` names the process and ``setting`` the variable that sets the port, for the error: a port in use
    is a configuration mistake (two processes given the same port), refused at start rather than silent."""
    if port == 0:
        return None
    try:
        server, _thread = start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve the {what}'s /metrics on {addr}:{port} ({exc.strerror or exc}): give it a free "
            f"port ({setting} or --metrics-port), or 0 for no /metrics"
        ) from exc
    logger.info("%s: /metrics on %s:%d", what, addr, port)
    return MetricsServer(server, port)
