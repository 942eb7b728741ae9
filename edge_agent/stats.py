"""Thread-safe counters and latency windows shared by the pipeline, heartbeats and /metrics."""

from __future__ import annotations

import threading
from collections import Counter, deque

import numpy as np


class LatencyWindow:
    """The last ``size`` samples (ms); percentiles over them.

    Lock-free: ``deque.append`` and ``tuple(deque)`` of floats are each one C call under the GIL in CPython
    (no Python code runs while they iterate), so a reader never sees a deque mutated during its copy.
    """

    def __init__(self, size: int = 2048) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, ms: float) -> None:
        self._samples.append(ms)

    def percentiles(self, *qs: float) -> tuple[float | None, ...]:
        samples = tuple(self._samples)
        if not samples:
            return tuple(None for _ in qs)
        data = np.asarray(samples, dtype=float)
        return tuple(float(np.percentile(data, q)) for q in qs)

    def __len__(self) -> int:
        return len(self._samples)


class AgentStats:
    """Counters keyed by name (``frames_captured``, ``verdict:FAIL``, ``sink_failures:plc`` ...)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.inference_ms = LatencyWindow()
        self.decision_ms = LatencyWindow()  # capture -> verdict
        self.reject_ms = LatencyWindow()  # capture -> reject signal written by a sink

    def incr(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def inspected(
        self, verdict: str, inference_ms: float, decision_ms: float, classes: tuple[str, ...] = ()
    ) -> None:
        """One inspected frame: its counters and latencies under one lock (the inspection thread's path);
        ``classes``: those that made a FAIL or UNCERTAIN verdict (counted as ``defect:<verdict>:<class>``)."""
        with self._lock:
            self._counts["frames_inspected"] += 1
            self._counts[f"verdict:{verdict}"] += 1
            for name in classes:
                self._counts[f"defect:{verdict}:{name}"] += 1
        self.inference_ms.add(inference_ms)
        self.decision_ms.add(decision_ms)

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def with_prefix(self, prefix: str) -> dict[str, int]:
        with self._lock:
            return {k[len(prefix) :]: v for k, v in self._counts.items() if k.startswith(prefix)}
