"""Retrain requests waiting for the trainer: one retrain at a time per product, one waiting per product.

A request for a product that already waits is merged into it (one reason per trigger), so a burst of triggers
yields one retrain; a request for a product being retrained waits until that retrain ends.

With a :class:`~training.triggers.state.TrainerState` the queue is durable: every change is written through
in one transaction, and a new queue on the same state reloads it. A request that was running when the last
trainer stopped (its ``done`` never came) is queued again, ahead of the rest, merged with the request that
waited behind it for the same product, if any.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from enum import StrEnum

from training.triggers.base import RetrainRequest
from training.triggers.state import QueuedRequest, TrainerState

logger = logging.getLogger(__name__)


class Admission(StrEnum):
    QUEUED = "queued"
    MERGED = "merged"  # joined the request already waiting for that product


def _merged(waiting: RetrainRequest, reasons: dict[str, str], request: RetrainRequest) -> RetrainRequest:
    """``request`` merged into ``waiting``; ``reasons`` (the waiting one's, per trigger) updated in place."""
    reasons.update({request.trigger: request.reason})  # a trigger's latest word replaces its earlier one
    return dataclasses.replace(
        waiting,
        reason="; ".join(reasons.values()),
        trigger=waiting.trigger if len(reasons) == 1 else "multiple",
        job_ids=waiting.job_ids + tuple(j for j in request.job_ids if j not in waiting.job_ids),
    )


class RetrainQueue:
    def __init__(self, state: TrainerState | None = None) -> None:
        """``state``: where the queue is kept across restarts (None: in memory only)."""
        self._state = state
        self._waiting: OrderedDict[str, RetrainRequest] = OrderedDict()
        self._running: dict[str, RetrainRequest] = {}
        self._reasons: dict[str, dict[str, str]] = {}  # product -> trigger -> reason, of the waiting request
        self._running_reasons: dict[str, dict[str, str]] = {}
        self._cond = threading.Condition()
        if state is not None:
            self._reload(state)

    def _reload(self, state: TrainerState) -> None:
        entries = state.load_queue()
        for entry in [e for e in entries if e.running] + [e for e in entries if not e.running]:
            request, product = entry.request, entry.request.product
            if entry.running:
                logger.warning(
                    "re-queueing the retrain of %s that was running when the trainer stopped (%s)",
                    product,
                    request.reason,
                )
            if product in self._waiting:  # the running one, now queued again, answers this one too
                base = self._waiting[product]
                reasons = self._reasons[product]
                for trigger, reason in entry.reasons.items():
                    again = dataclasses.replace(request, trigger=trigger, reason=reason)
                    base = _merged(base, reasons, again)
                self._waiting[product] = base
            else:
                self._waiting[product] = request
                self._reasons[product] = dict(entry.reasons)
        self._save()

    def _save(self) -> None:
        """Write the queue through (called with the condition held, or before the queue is shared)."""
        if self._state is None:
            return
        entries = [
            QueuedRequest(r, self._running_reasons.get(p, {r.trigger: r.reason}), running=True)
            for p, r in self._running.items()
        ]
        entries += [QueuedRequest(r, self._reasons[p]) for p, r in self._waiting.items()]
        self._state.save_queue(entries)

    def submit(self, request: RetrainRequest) -> Admission:
        with self._cond:
            waiting = self._waiting.get(request.product)
            if waiting is None:
                self._waiting[request.product] = request
                self._reasons[request.product] = {request.trigger: request.reason}
                admission = Admission.QUEUED
                self._cond.notify_all()
            else:
                reasons = self._reasons[request.product]
                self._waiting[request.product] = _merged(waiting, reasons, request)
                admission = Admission.MERGED
            self._save()
            return admission

    def take(self, timeout_s: float | None = None) -> RetrainRequest | None:
        """The oldest waiting request whose product is not being retrained (marked running), or None."""
        with self._cond:
            found = self._cond.wait_for(self._ready, timeout_s)
            if not found:
                return None
            product = next(p for p in self._waiting if p not in self._running)
            request = self._running[product] = self._waiting.pop(product)
            self._running_reasons[product] = self._reasons.pop(product)
            self._save()
            return request

    def done(self, product: str) -> None:
        with self._cond:
            self._running.pop(product, None)
            self._running_reasons.pop(product, None)
            self._save()
            self._cond.notify_all()

    def running(self) -> set[str]:
        with self._cond:
            return set(self._running)

    def waiting(self) -> list[RetrainRequest]:
        with self._cond:
            return list(self._waiting.values())

    def _ready(self) -> bool:
        return any(p not in self._running for p in self._waiting)
