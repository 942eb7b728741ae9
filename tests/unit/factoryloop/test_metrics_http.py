"""factoryloop.metrics_http: a registry served on a port (0: none), a port in use refused with the setting to
change, the process' own metrics included."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client import Counter

from factoryloop.errors import ConfigError
from factoryloop.metrics_http import process_registry, serve_metrics
from factoryloop.stack.process import free_ports


def test_serves_the_registry_and_stops() -> None:
    registry = process_registry()
    Counter("factoryloop_test_things_total", "things", registry=registry).inc(3)
    (port,) = free_ports(1)
    server = serve_metrics(
        port, registry, what="test", setting="FACTORYLOOP_TEST_METRICS_PORT", addr="127.0.0.1"
    )
    assert server is not None and server.port == port
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.close()
    assert "factoryloop_test_things_total 3.0" in text.splitlines()
    assert "process_cpu_seconds_total" in text and "python_gc_objects_collected_total" in text
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_port_zero_serves_nothing() -> None:
    assert serve_metrics(0, process_registry(), what="test", setting="X") is None


def test_a_port_in_use_is_refused_naming_the_setting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as err:
            serve_metrics(
                port,
                process_registry(),
                what="sink",
                setting="FACTORYLOOP_API_SINK_METRICS_PORT",
                addr="127.0.0.1",
            )
    message = str(err.value)
    assert f"sink's /metrics on 127.0.0.1:{port}" in message
    assert "FACTORYLOOP_API_SINK_METRICS_PORT or --metrics-port" in message and "0 for no /metrics" in message
