"""Run the sink as N processes of one consumer group: the way to scale ingest past one core.

One sink process is CPU-bound Python (record parsing, validation, row mapping, the insert) under one GIL:
about 10k outcomes/s on one core of the benchmark machine (docs/benchmarks.md "Sink"). Kafka spreads the
partitions over the members of the group, so N processes (at most one per partition, ideally one per core)
share the work; every process commits its own offsets after its own transactions, and duplicates after a
rebalance are ignored on ``event_id``, as with one process.

The parent process only supervises: SIGTERM or Ctrl-C stops every child after its current batch; a child that
dies stops the others and the parent exits non-zero, so a service manager restarts the whole group.

With a metrics port P (``--metrics-port``, ``FACTORYLOOP_API_SINK_METRICS_PORT``) each sink process serves
its own ``/metrics`` (the ``factoryloop_api_sink_*`` of api.metrics, and the process' own): one process on P,
N processes on P, P+1, ..., P+N-1 (the parent serves none).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

logger = logging.getLogger(__name__)


def run_one(metrics_port: int | None = None) -> None:
    """One sink in this process, from the API settings (``FACTORYLOOP_API_*``), until SIGTERM or Ctrl-C;
    ``/metrics`` on ``metrics_port`` (None: the settings' ``sink_metrics_port``; 0: none)."""
    from prometheus_client import REGISTRY

    from api.db.engine import Database
    from api.frames.store import LocalFrameStore
    from api.settings import get_settings
    from api.sink.runner import Sink
    from factoryloop.metrics_http import serve_metrics

    # Handlers first: a SIGTERM while the sink is still connecting (waiting for the broker's metadata) ends
    # the process cleanly once it is built, instead of killing it (systemd would count a failure).
    stopping = threading.Event()
    runner: Sink | None = None

    def stop(*_: Any) -> None:
        stopping.set()
        if runner is not None:
            runner.stop()  # run() is on this thread: the loop ends after its current batch, then commits

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    settings = get_settings()
    port = settings.sink_metrics_port if metrics_port is None else metrics_port
    server = serve_metrics(port, REGISTRY, what="sink", setting="FACTORYLOOP_API_SINK_METRICS_PORT")
    db = Database(settings.database_url)
    runner = Sink(
        settings.kafka,
        db.engine,
        LocalFrameStore(settings.frames_dir),
        group_id=settings.sink_group_id,
        batch_size=settings.sink_batch_size,
        poll_timeout_ms=settings.sink_poll_timeout_ms,
    )
    try:
        if not stopping.is_set():
            runner.run()
    finally:
        db.dispose()
        if server is not None:
            server.close()
        logger.info("sink stopped after %d events (%d new rows)", runner.stats.events, runner.stats.inserted)


def _child(metrics_port: int) -> None:
    fmt = "%(asctime)s %(processName)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=logging.INFO, format=fmt, stream=sys.stderr)
    run_one(metrics_port)


def run_processes(count: int, poll_s: float = 0.5, *, metrics_port: int = 0) -> int:
    """Start ``count`` sink processes and wait for them; returns the exit status for the command.
    ``metrics_port``: the first process' ``/metrics`` port, the next ones' count up from it (0: none)."""
    ctx = mp.get_context("spawn")  # no inherited Kafka sockets or database connections
    ports = [metrics_port + i if metrics_port else 0 for i in range(count)]
    children: list[BaseProcess] = [
        ctx.Process(target=_child, args=(ports[i],), name=f"sink-{i}") for i in range(count)
    ]
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGTERM, stop), signal.signal(signal.SIGINT, stop)
    try:
        for child in children:
            child.start()
        logger.info("started %d sink processes: %s", count, [c.pid for c in children])
        failed: list[str] = []
        while any(c.is_alive() for c in children):
            failed = [f"{c.name} exited with {c.exitcode}" for c in children if c.exitcode not in (None, 0)]
            if stopping or failed:
                break
            time.sleep(poll_s)
        if failed:
            logger.error("%s: stopping the other sink processes", "; ".join(failed))
        for child in children:
            if child.is_alive() and child.pid is not None:
                child.terminate()  # SIGTERM: the child finishes its batch and commits
        for child in children:
            child.join()
        failed = [f"{c.name} exited with {c.exitcode}" for c in children if c.exitcode != 0]
        if failed:
            logger.error("sink processes failed: %s", "; ".join(failed))
        return 1 if failed else 0
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
