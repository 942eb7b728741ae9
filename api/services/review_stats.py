"""Human effort: reviews in a time range, the time they took, and what they changed, per product, class,
reviewer and what the queue offered them for.

Reviews are human-scale (thousands a day, not millions), so the range's reviews are read once (index
``reviews(ts)``) with the classes of the model's boxes of their inspections (primary-key probes), and
aggregated here; medians need every value anyway.

Per class ``c`` of a review, with ``M`` the classes of the model's boxes and ``L`` those of the label:
``confirmed`` when ``c`` is in both, ``removed`` when only the model had it (a false alarm, or a wrong class),
``added`` when only the label has it (a miss, or the right class); ``corrected = removed + added``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import DetectionRow, ReviewRow

ACTIONS = ("confirm", "reject", "correct")
_CHUNK = 500


@dataclass
class _Effort:
    reviews: int = 0
    actions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTIONS, 0))
    ms: list[int] = field(default_factory=list)

    def add(self, action: str, review_ms: int | None) -> None:
        self.reviews += 1
        self.actions[action] = self.actions.get(action, 0) + 1
        if review_ms is not None:
            self.ms.append(review_ms)

    def out(self) -> dict[str, Any]:
        return {
            "reviews": self.reviews,
            **time_summary(self.ms),
            "mean_s": round(statistics.fmean(self.ms) / 1000, 3) if self.ms else None,
            "total_s": round(sum(self.ms) / 1000, 3),
            **self.actions,
        }


def percentile(values: list[int], q: float) -> int | None:
    """The nearest-rank ``q`` percentile (0 < q <= 100): the smallest value with at least q % of the values
    at or below it; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def time_summary(ms: list[int]) -> dict[str, Any]:
    """``timed`` (how many), ``median_s`` and ``p90_s`` (nearest rank) of review times in milliseconds."""
    p90 = percentile(ms, 90)
    return {
        "timed": len(ms),
        "median_s": round(statistics.median(ms) / 1000, 3) if ms else None,
        "p90_s": None if p90 is None else round(p90 / 1000, 3),
    }


def _model_classes(s: Session, event_ids: list[str]) -> dict[str, set[str]]:
    d = DetectionRow
    out: dict[str, set[str]] = {e: set() for e in event_ids}
    for i in range(0, len(event_ids), _CHUNK):
        chunk = event_ids[i : i + _CHUNK]
        for e, name in s.execute(
            select(d.outcome_event_id, d.class_name).where(d.outcome_event_id.in_(chunk))
        ):
            out[e].add(name)
    return out


def _grouped(groups: dict[Any, _Effort], names: Iterable[str]) -> list[dict[str, Any]]:
    return [
        dict(zip(names, k if isinstance(k, tuple) else (k,), strict=True)) | e.out()
        for k, e in groups.items()
    ]


def review_stats(
    s: Session, since: datetime, until: datetime, line_id: str | None = None, product: str | None = None
) -> dict[str, Any]:
    r = ReviewRow
    stmt = select(
        r.outcome_event_id, r.action, r.detections, r.review_ms, r.product, r.reviewer, r.offered_for
    ).where(r.ts >= since, r.ts < until)
    if line_id is not None:
        stmt = stmt.where(r.line_id == line_id)
    if product is not None:
        stmt = stmt.where(r.product == product)
    rows = s.execute(stmt.order_by(r.ts, r.id)).all()
    model = _model_classes(s, sorted({row.outcome_event_id for row in rows}))
    total = _Effort()
    by_product: dict[str, _Effort] = {}
    by_reviewer: dict[str, _Effort] = {}
    by_reason: dict[str, _Effort] = {}
    by_class: dict[tuple[str, str], dict[str, int]] = {}
    for row in rows:
        p = row.product or ""
        for effort in (
            total,
            by_product.setdefault(p, _Effort()),
            by_reviewer.setdefault(row.reviewer, _Effort()),
            by_reason.setdefault(row.offered_for or "not_queued", _Effort()),
        ):
            effort.add(row.action, row.review_ms)
        m = model[row.outcome_event_id]
        labelled = {d.get("class_name") for d in row.detections or [] if isinstance(d, dict)}
        for c in sorted(m | {c for c in labelled if c}):
            acc = by_class.setdefault((p, str(c)), {"reviews": 0, "confirmed": 0, "removed": 0, "added": 0})
            acc["reviews"] += 1
            acc["confirmed" if c in m and c in labelled else "removed" if c in m else "added"] += 1
    classes = [
        {"product": p, "class_name": c, **v, "corrected": v["removed"] + v["added"]}
        for (p, c), v in sorted(by_class.items())
    ]
    return {
        **total.out(),
        "by_product": sorted(_grouped(by_product, ["product"]), key=lambda x: x["product"]),
        "by_class": classes,
        "by_reviewer": sorted(_grouped(by_reviewer, ["reviewer"]), key=lambda x: x["reviewer"]),
        "by_offered_for": sorted(_grouped(by_reason, ["offered_for"]), key=lambda x: x["offered_for"]),
    }
