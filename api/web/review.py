"""The review page's data. The page (``review.js``) shows one frame at a time from a batch of the queue (by
review priority, newest or oldest first): per frame why it is offered, its model boxes under their current
class names, and the class list of its product's class map (or free names, said so, when the product has
none); the number of frames left; and the reviewers' time per review. The script posts each decision as a
:class:`~api.routes.review.ReviewIn` with ``review_ms`` (``api.web.review_routes``); the plain form fields
(``relabelled``, ``review_ms``) are still read by the form route ``POST /ui/review/{event_id}``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from api.context import AppContext
from api.db.models import FrameRow, ReviewQueueRow, ReviewRow
from api.db.upsert import table
from api.errors import ApiError
from api.routes.review import MAX_REVIEW_MS, BoxIn, DetectionIn
from api.services import stats
from api.services.inspections import detections_of
from api.services.priority import shown_reason
from api.services.products import class_map, current_name, no_class_map_note
from api.services.review_queue import QueueOrder, review_queue
from api.services.review_stats import time_summary
from factoryloop.products import Product

QUEUE_SIZE = 30  # frames per batch the page holds (it asks for more as it gets through them)
MAX_BATCH = 200
COUNT_CAP = 1000  # "1000+ left": counting further walks the queue for nothing
PACE_HOURS = 24
MAX_NEW_BOXES = 200


def queue_order(value: Any) -> QueueOrder:
    """The page's ``order`` (a query or form value); priority when missing or unknown."""
    try:
        return QueueOrder(str(value))
    except ValueError:
        return QueueOrder.PRIORITY


def page_url(order: QueueOrder, line_id: str | None) -> str:
    params = {"order": order.value} | ({"line_id": line_id} if line_id else {})
    return "/ui/review?" + urlencode(params)


def review_ms(form: Any, now_ms: int | None = None) -> int | None:
    """The time the reviewer took, from a form post: ``review_ms`` as a script measured it, else the time
    since the server rendered the page (``shown_at``, epoch ms). None when missing, malformed, negative or
    over an hour (an idle page, not a review)."""
    ms: int | None = None
    try:
        if form.get("review_ms"):
            ms = int(float(str(form.get("review_ms"))))
        elif form.get("shown_at"):
            now_ms = int(time.time() * 1000) if now_ms is None else now_ms
            ms = now_ms - int(str(form.get("shown_at")))
    except ValueError:
        return None
    return ms if ms is not None and 0 <= ms <= MAX_REVIEW_MS else None


def _class_maps(ctx: AppContext, products: list[str | None]) -> dict[str | None, Product | ApiError | None]:
    """Each product's class map; None without one; the error of a damaged catalog record (said on the page,
    the review's POST refuses it)."""
    out: dict[str | None, Product | ApiError | None] = {}
    for product in dict.fromkeys(products):
        try:
            out[product] = class_map(ctx.products, product)
        except ApiError as exc:
            out[product] = exc
    return out


def queue_batch(
    ctx: AppContext, line_id: str | None, order: QueueOrder, limit: int = QUEUE_SIZE
) -> dict[str, Any]:
    """``items``: the first ``limit`` queued frames as the page shows them; ``remaining``: how many frames
    the queue holds (``capped`` when there are more than :data:`COUNT_CAP`)."""
    with ctx.db.session() as s:
        rows = review_queue(s, line_id, min(max(limit, 1), MAX_BATCH), order)
        dets = detections_of(s, [r.event_id for r in rows])
        maps = _class_maps(ctx, [r.product for r in rows])
        names = {p: stats.known_classes(s, m) for p, m in maps.items() if isinstance(m, Product)}
        seen = {d.class_name for r in rows if r.product not in names for d in dets[r.event_id]}
        free = sorted(set(stats.known_classes(s)) | seen)
        remaining, capped = queue_size(s, line_id)
    items = [_item(r, dets[r.event_id], maps[r.product], names.get(r.product, free)) for r in rows]
    return {"items": items, "remaining": remaining, "capped": capped}


def _item(r: Any, dets: list[Any], cmap: Product | ApiError | None, classes: list[str]) -> dict[str, Any]:
    """One queued frame for the page: the boxes in the stored JPEG's pixels, named as the product's class
    map names them now (``model_class``: as the model named them)."""
    product_map = cmap if isinstance(cmap, Product) else None
    note: str | None = None
    if product_map is None:
        note = cmap.message if isinstance(cmap, ApiError) else no_class_map_note(r.product)
    return {
        "event_id": r.event_id,
        "frame": f"/ui/frames/{r.frame_sha256}?overlay=0",
        "width": r.frame_width,
        "height": r.frame_height,
        "verdict": r.verdict,
        "line_id": r.line_id,
        "station_id": r.station_id,
        "ts": r.ts.strftime("%Y-%m-%d %H:%M:%S"),
        "sample_reason": r.sample_reason,
        "reason": shown_reason(r.reason, r.verdict, r.sample_reason),
        "priority": round(r.priority, 3),
        "product": r.product,
        "mapped": product_map is not None,
        "note": note,
        "classes": classes,
        "boxes": [
            {
                "class_name": current_name(product_map, d.class_name) if product_map else d.class_name,
                "model_class": d.class_name,
                "class_id": d.class_id,
                "confidence": round(d.confidence, 3),
                "box": [d.x1, d.y1, d.x2, d.y2],
            }
            for d in dets
        ],
    }


def queue_size(s: Session, line_id: str | None, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """Queued frames with a stored frame (of a line), counted up to ``cap``: (count, more than cap)."""
    q = table(ReviewQueueRow)
    walk = select(q.c.outcome_event_id).where(exists().where(FrameRow.sha256 == q.c.frame_sha256))
    if line_id is not None:
        walk = walk.where(q.c.line_id == line_id)
    n = int(s.scalar(select(func.count()).select_from(walk.limit(cap + 1).subquery())) or 0)
    return min(n, cap), n > cap


def pace(ctx: AppContext, line_id: str | None, hours: int = PACE_HOURS) -> dict[str, Any]:
    """Time per review in the last ``hours`` (the reviews that carry one): ``all`` and ``by_reviewer``, each
    ``timed``, ``median_s``, ``p90_s`` (as ``GET /stats/reviews`` computes them)."""
    r = ReviewRow
    since = datetime.now(UTC) - timedelta(hours=hours)
    stmt = select(r.reviewer, r.review_ms).where(r.ts >= since, r.review_ms.is_not(None))
    if line_id is not None:
        stmt = stmt.where(r.line_id == line_id)
    with ctx.db.session() as s:
        rows = s.execute(stmt).all()
    by: dict[str, list[int]] = {}
    for reviewer, ms in rows:
        if ms is not None:
            by.setdefault(reviewer, []).append(ms)
    return {
        "hours": hours,
        "all": time_summary([ms for times in by.values() for ms in times]),
        "by_reviewer": {name: time_summary(ms) for name, ms in sorted(by.items())},
    }


def review_view(
    ctx: AppContext, line_id: str | None, order: QueueOrder = QueueOrder.PRIORITY
) -> dict[str, Any]:
    """Template data of review.html: line_id, order, orders, and ``data`` (the page script's JSON: the first
    batch, the count left, the pace, the URL of further batches, shown_at = epoch ms of the render)."""
    params = {"order": order.value} | ({"line_id": line_id} if line_id else {})
    data = queue_batch(ctx, line_id, order) | {
        "order": order.value,
        "line_id": line_id,
        "items_url": "/ui/review/items?" + urlencode(params),
        "pace": pace(ctx, line_id),
        "shown_at": int(time.time() * 1000),
    }
    return {"data": data, "line_id": line_id, "order": order.value, "orders": [o.value for o in QueueOrder]}


def relabelled(ctx: AppContext, event_id: str, form: Any) -> list[DetectionIn]:
    """The form route's correction: the model's boxes relabelled (``class_<i>``; empty drops it) plus drawn
    boxes (``new_box_<k>`` = "x1,y1,x2,y2" in frame pixels, ``new_class_<k>``; an empty class drops it).
    Class ids come from the product's class map in ``submit_review``; without one, from the model's box of
    that name (0 for a new name)."""
    with ctx.db.session() as s:
        dets = detections_of(s, [event_id])[event_id]
    ids = {d.class_name: d.class_id for d in dets}
    out = []
    for i, d in enumerate(dets):
        name = str(form.get(f"class_{i}", d.class_name)).strip()[:64]
        if name:
            box = BoxIn(x1=d.x1, y1=d.y1, x2=d.x2, y2=d.y2)
            out.append(DetectionIn(class_id=ids.get(name, 0), class_name=name, box=box))
    for k in range(MAX_NEW_BOXES):
        raw = form.get(f"new_box_{k}")
        if raw is None:
            continue
        name = str(form.get(f"new_class_{k}", "")).strip()[:64]
        if not name:
            continue
        coords = [float(v) for v in str(raw).split(",")]
        if len(coords) != 4:
            raise ValueError(f"new_box_{k} needs 4 numbers x1,y1,x2,y2, got {raw!r}")
        box = BoxIn(x1=coords[0], y1=coords[1], x2=coords[2], y2=coords[3])
        out.append(DetectionIn(class_id=ids.get(name, 0), class_name=name, box=box))
    return out
