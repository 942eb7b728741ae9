"""Runs the queued retrains one after another (one per product at a time) and reports how each ended."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from training.errors import RetrainBusyError, TrainingError, TrainingStopped
from training.triggers.base import RetrainRequest
from training.triggers.queue import RetrainQueue

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetrainReport:
    request: RetrainRequest
    ok: bool
    summary: str  # e.g. "v7 PROMOTED - ...", or what went wrong and what to do


Runner = Callable[[RetrainRequest], str]
Listener = Callable[[RetrainReport], None]


class RetrainWorker:
    """Takes requests from the queue and calls ``run`` for each; a failure is reported, never fatal."""

    def __init__(self, queue: RetrainQueue, run: Runner, *, on_done: Listener | None = None) -> None:
        self.queue = queue
        self.run_one = run
        self.on_done = on_done
        self.reports: list[RetrainReport] = []

    def step(self, timeout_s: float = 1.0) -> RetrainReport | None:
        request = self.queue.take(timeout_s)
        if request is None:
            return None
        try:
            report = RetrainReport(request, True, self.run_one(request))
        except TrainingStopped as exc:  # the trainer is stopping: the request stays queued (in its state)
            logger.warning("retrain of %s interrupted (%s); it runs at the next start", request.product, exc)
            return None
        except (
            RetrainBusyError
        ) as exc:  # another process (the CLI) is retraining the product on the same data
            report = RetrainReport(request, False, str(exc))
        except TrainingError as exc:
            report = RetrainReport(request, False, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a retrain may fail in Ultralytics/MLflow code: report it, keep serving
            logger.exception("retrain of %s failed", request.product)
            report = RetrainReport(request, False, f"unexpected {type(exc).__name__}: {exc}")
        self.queue.done(request.product)
        logger.info("retrain of %s (%s): %s", request.product, request.trigger, report.summary)
        self.reports.append(report)
        if self.on_done is not None:
            self.on_done(report)
        return report

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.step()
