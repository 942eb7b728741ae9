"""A simulated supervisor who reviews through the defect API, as a person on the review page would: it
takes pages of ``GET /api/v1/review/queue?order=priority`` (the frames that teach the model most first),
answers each one with the simulated line's truth through ``POST /api/v1/review/{event_id}`` (which publishes
the Label), and stops when its review budget is spent.

The truth of a queued frame comes from its part: the simulated camera names each item ``sim-<seed>-<index>``,
and the :class:`~factoryloop.sim.Oracle` of that seed renders frame ``index``'s defects. It *confirms* a
decision the model got right (every true defect found with the same class at IoU >= 0.5, nothing else),
*corrects* one it got wrong with the true boxes, and *rejects* one that flagged a defect-free part.

Part of the test bench (the demo, tests): nothing in production depends on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from factoryloop.sim.oracle import Oracle
from factoryloop.sim.render import SimBox

logger = logging.getLogger(__name__)
MATCH_IOU = 0.5
Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def decisions_match(truth: list[tuple[str, Box]], predicted: list[tuple[str, Box]]) -> bool:
    """True when every true defect was found (same class, IoU >= 0.5) and nothing else was reported."""
    unmatched = list(predicted)
    for name, box in truth:
        hit = next((p for p in unmatched if p[0] == name and iou(box, p[1]) >= MATCH_IOU), None)
        if hit is None:
            return False
        unmatched.remove(hit)
    return not unmatched


def review_body(truth: tuple[SimBox, ...], detections: list[dict[str, Any]]) -> dict[str, Any]:
    """The review a perfect supervisor gives a queued inspection (``detections``: as the API lists them)."""
    true = [(b.class_name, (float(b.x1), float(b.y1), float(b.x2), float(b.y2))) for b in truth]
    predicted = [
        (d["class_name"], (d["box"]["x1"], d["box"]["y1"], d["box"]["x2"], d["box"]["y2"]))
        for d in detections
    ]
    if decisions_match(true, predicted):
        return {"action": "confirm"}
    if not truth:
        return {"action": "reject"}
    boxes = [
        {
            "class_id": b.class_id,
            "class_name": b.class_name,
            "box": {"x1": b.x1, "y1": b.y1, "x2": b.x2, "y2": b.y2},
        }
        for b in truth
    ]
    return {"action": "correct", "detections": boxes}


def parse_item_id(item_id: str | None) -> tuple[int, int] | None:
    """``sim-<seed>-<index>`` -> (seed, index); None for another source's item."""
    parts = (item_id or "").split("-")
    if len(parts) != 3 or parts[0] != "sim":
        return None
    try:
        return int(parts[1]), int(parts[2])
    except ValueError:
        return None


@dataclass
class ReviewLog:
    """What the supervisor did: reviews per action and per true class, and when each was made."""

    actions: dict[str, int] = field(default_factory=dict)
    by_class: dict[str, int] = field(default_factory=dict)  # reviews whose true boxes include the class
    at: list[datetime] = field(default_factory=list)
    skipped: int = 0  # queued frames it could not trace to a simulated part, or reviewed by someone else

    @property
    def total(self) -> int:
        return len(self.at)

    def before(self, when: datetime) -> int:
        return sum(1 for t in self.at if t <= when)


class ApiSupervisor:
    """Reviews ``line_id``'s queue through the API in a background thread until ``budget`` reviews are made.

    ``oracles``: the truth of each simulated camera, by seed. ``pace_s``: the time it takes per review (a
    person needs seconds; the queue grows meanwhile, and its order decides what gets reviewed)."""

    def __init__(
        self,
        api_url: str,
        token: str,
        oracles: Mapping[int, Oracle],
        *,
        line_id: str | None = None,
        budget: int = 150,
        page: int = 20,
        pace_s: float = 0.0,
        idle_s: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.oracles = dict(oracles)
        self.line_id = line_id
        self.budget = budget
        self.page = page
        self.pace_s = pace_s
        self.idle_s = idle_s
        self.log = ReviewLog()
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self._client = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
            transport=transport,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        self._client.close()

    @property
    def spent(self) -> bool:
        return self.log.total >= self.budget

    def _queue(self) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"order": "priority", "limit": self.page}
        if self.line_id is not None:
            params["line_id"] = self.line_id
        resp = self._client.get("/api/v1/review/queue", params=params)
        resp.raise_for_status()
        items: list[dict[str, Any]] = resp.json()
        return items

    def _review(self, item: dict[str, Any]) -> bool:
        traced = parse_item_id(item.get("item_id"))
        oracle = self.oracles.get(traced[0]) if traced is not None else None
        if traced is None or oracle is None:
            return False
        truth = oracle.truth(traced[1]).boxes
        body = review_body(truth, item.get("detections", []))
        started = time.monotonic()
        if self.pace_s > 0 and self._stop.wait(self.pace_s):
            return False
        body["review_ms"] = int((time.monotonic() - started) * 1000)
        resp = self._client.post(f"/api/v1/review/{item['event_id']}", json=body)
        if resp.status_code in (404, 409):  # gone, or reviewed meanwhile
            return False
        resp.raise_for_status()
        with self.lock:
            log = self.log
            log.at.append(datetime.now(UTC))
            log.actions[body["action"]] = log.actions.get(body["action"], 0) + 1
            for name in sorted({b.class_name for b in truth}):
                log.by_class[name] = log.by_class.get(name, 0) + 1
        return True

    def _run(self) -> None:
        seen: set[str] = set()  # asked once: an item it cannot trace is not asked about again
        try:
            while not self._stop.is_set() and not self.spent:
                items = [i for i in self._queue() if i["event_id"] not in seen]
                if not items:
                    self._stop.wait(self.idle_s)
                    continue
                for item in items:
                    if self._stop.is_set() or self.spent:
                        break
                    seen.add(item["event_id"])
                    if not self._review(item):
                        self.log.skipped += 1
                    if self.pace_s > 0:
                        break  # a person takes the queue's new top after each review
            logger.info("simulated supervisor: %d reviews, budget %d", self.log.total, self.budget)
        except Exception as exc:  # thread boundary: keep the error for the caller, log it
            self.error = exc
            logger.exception("simulated supervisor stopped")
