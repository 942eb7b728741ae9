"""Retrain requests waiting for the trainer: one retrain at a time per product, one waiting per product.

A request for a product that already waits is merged into it (one reason per trigger), so a burst of triggers
yields one retrain; a request for a product being retrained waits until that retrain ends.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from enum import StrEnum

from training.triggers.base import RetrainRequest


class Admission(StrEnum):
    QUEUED = "queued"
    MERGED = "merged"  # joined the request already waiting for that product


class RetrainQueue:
    def __init__(self) -> None:
        self._waiting: OrderedDict[str, RetrainRequest] = OrderedDict()
        self._running: set[str] = set()
        self._reasons: dict[str, dict[str, str]] = {}  # product -> trigger -> reason, of the waiting request
        self._cond = threading.Condition()

    def submit(self, request: RetrainRequest) -> Admission:
        with self._cond:
            waiting = self._waiting.get(request.product)
            if waiting is None:
                self._waiting[request.product] = request
                self._reasons[request.product] = {request.trigger: request.reason}
                self._cond.notify_all()
                return Admission.QUEUED
            reasons = self._reasons[request.product]
            reasons[request.trigger] = request.reason  # a trigger's latest word replaces its earlier one
            self._waiting[request.product] = dataclasses.replace(
                waiting,
                reason="; ".join(reasons.values()),
                trigger=waiting.trigger if len(reasons) == 1 else "multiple",
                job_ids=waiting.job_ids + tuple(j for j in request.job_ids if j not in waiting.job_ids),
            )
            return Admission.MERGED

    def take(self, timeout_s: float | None = None) -> RetrainRequest | None:
        """The oldest waiting request whose product is not being retrained (marked running), or None."""
        with self._cond:
            found = self._cond.wait_for(self._ready, timeout_s)
            if not found:
                return None
            product = next(p for p in self._waiting if p not in self._running)
            self._running.add(product)
            return self._waiting.pop(product)

    def done(self, product: str) -> None:
        with self._cond:
            self._running.discard(product)
            self._cond.notify_all()

    def running(self) -> set[str]:
        with self._cond:
            return set(self._running)

    def waiting(self) -> list[RetrainRequest]:
        with self._cond:
            return list(self._waiting.values())

    def _ready(self) -> bool:
        return any(p not in self._running for p in self._waiting)
