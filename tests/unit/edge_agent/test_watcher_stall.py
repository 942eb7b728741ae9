"""The agent's deployment watcher opens its consumer again when it stalls (factoryloop.kafka.stall)."""

from __future__ import annotations

import pytest

from tests.unit.factoryloop.test_kafka_stall import FakeRaw


def test_the_deployment_watcher_opens_a_stalled_consumer_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from edge_agent.models import watcher as watcher_module
    from factoryloop.settings import KafkaSettings

    opened = threading.Semaphore(0)

    class StuckConsumer:  # polls nothing while its partition has records: what a stalled consumer does
        def __init__(self, *args: object, **kwargs: object) -> None:
            self.raw = FakeRaw([(3, 7)] * 1000)
            self.raw.next_check()
            opened.release()

        def poll(self, timeout_ms: int) -> list[object]:
            return []

        def close(self) -> None:
            pass

    monkeypatch.setattr(watcher_module, "TypedConsumer", StuckConsumer)
    monkeypatch.setattr(watcher_module.DeploymentWatcher, "handle", lambda self, deployments: None)
    w = watcher_module.DeploymentWatcher(KafkaSettings(), None, "agent-1", "line-1")  # type: ignore[arg-type]
    w.stall_check_s = 0.01
    w.start()
    try:
        assert all(opened.acquire(timeout=10) for _ in range(3))  # opened, stalled, opened again (twice)
    finally:
        w.stop()
