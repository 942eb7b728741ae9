"""The review page's data: the queue (by review priority, newest or oldest first) with why each frame is
offered, per frame the class choices of its product's class map (or free names, said so, when the product has
none), the correction form's boxes, and the time the reviewer took (``review_ms``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from api.context import AppContext
from api.errors import ApiError
from api.routes.review import MAX_REVIEW_MS, BoxIn, DetectionIn
from api.services import stats
from api.services.inspections import detections_of
from api.services.priority import shown_reason
from api.services.products import class_map, current_name, no_class_map_note
from api.services.review_queue import QueueOrder, review_queue
from factoryloop.products import Product

QUEUE_SIZE = 30
FREE_LIST = "classes"  # the datalist of frames whose product has no class map
MAX_NEW_BOXES = 200


@dataclass(frozen=True, slots=True)
class ClassChoice:
    """What one frame's form offers."""

    list_id: str  # the <datalist> of its choices
    product: str | None
    mapped: bool  # the product has a class map: names are checked against it
    note: str | None  # why names are free (no product, or no class map)
    default: str  # the class of a newly drawn box
    values: tuple[str, ...]  # each model box's class as its input shows it (the current name)


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
    """The time the reviewer took: ``review_ms`` as the page's script measured it (from showing the page to
    the submit), else the time since the server rendered it (``shown_at``, epoch ms; without JavaScript).
    None when missing, malformed, negative or over an hour (an idle page, not a review)."""
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


def review_view(
    ctx: AppContext, line_id: str | None, order: QueueOrder = QueueOrder.PRIORITY
) -> dict[str, Any]:
    """Template data of review.html: rows, dets, line_id, order, reasons (why each frame is offered), lists
    (datalist id -> names), choice per event, shown_at (epoch ms of the render)."""
    with ctx.db.session() as s:
        rows = review_queue(s, line_id, QUEUE_SIZE, order)
        dets = detections_of(s, [r.event_id for r in rows])
        maps: dict[str | None, Product | None] = {}
        notes: dict[str | None, str] = {}
        for product in dict.fromkeys(r.product for r in rows):
            try:
                maps[product] = class_map(ctx.products, product)
            except ApiError as exc:  # a damaged catalog record: said on the page, the POST refuses
                maps[product], notes[product] = None, exc.message
        lists: dict[str, list[str]] = {}
        list_ids: dict[str | None, str] = {}
        for product, cmap in maps.items():
            if cmap is not None:
                list_ids[product] = f"classes-{len(list_ids)}"
                lists[list_ids[product]] = stats.known_classes(s, cmap)
        free = [r for r in rows if maps[r.product] is None]
        if free:
            seen = {d.class_name for r in free for d in dets[r.event_id]}
            lists[FREE_LIST] = sorted(set(stats.known_classes(s)) | seen)
    choices = {}
    for r in rows:
        cmap = maps[r.product]
        names = [d.class_name for d in dets[r.event_id]]
        list_id = list_ids.get(r.product, FREE_LIST)
        values = tuple(current_name(cmap, n) for n in names) if cmap is not None else tuple(names)
        choices[r.event_id] = ClassChoice(
            list_id=list_id,
            product=r.product,
            mapped=cmap is not None,
            note=None if cmap is not None else notes.get(r.product, no_class_map_note(r.product)),
            default=values[0] if values else (lists[list_id][0] if lists[list_id] else ""),
            values=values,
        )
    reasons = {r.event_id: shown_reason(r.reason, r.verdict, r.sample_reason) for r in rows}
    return {
        "rows": rows,
        "dets": dets,
        "line_id": line_id,
        "order": order.value,
        "orders": [o.value for o in QueueOrder],
        "reasons": reasons,
        "lists": lists,
        "choices": choices,
        "shown_at": int(time.time() * 1000),
    }


def relabelled(ctx: AppContext, event_id: str, form: Any) -> list[DetectionIn]:
    """The model's boxes relabelled (``class_<i>``; empty drops it) plus boxes drawn on the page
    (``new_box_<k>`` = "x1,y1,x2,y2" in frame pixels, ``new_class_<k>``; an empty class drops it). Class ids
    come from the product's class map in ``submit_review``; without one, from the model's box of that name
    (0 for a new name)."""
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
