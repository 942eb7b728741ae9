"""Reviews: confirm, reject or correct an inspection's detections. Each review becomes a ``Label`` on the
labels topic (reviewer = the token's name) and a row of the review audit trail, with the time the reviewer
took. The queue lists what to review next, highest review priority first (``api.services.priority``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field, TypeAdapter

from api.context import AppContext, get_ctx
from api.errors import InvalidRequestError
from api.metrics import LABELS_PUBLISHED, REVIEW_SECONDS
from api.routes.common import ERRORS, ErrorOut, EventId, IdText, detection_dict
from api.routes.inspections import InspectionOut, ReviewOut, review_out
from api.security import Principal, Role, needs, require
from api.services.inspections import detections_of, get_inspection
from api.services.priority import shown_reason
from api.services.products import class_map, no_class_map_note, resolve_detections
from api.services.review_queue import QueueOrder, review_queue, store_review
from api.sink.rows import label_row
from factoryloop.products import Product
from factoryloop.schemas import Box, Detection, Label, ReviewAction
from factoryloop.topics import TopicRole

MAX_REVIEW_MS = 3_600_000  # a longer "review" is an idle page: not a measurement

router = APIRouter(prefix="/review", tags=["review"], responses=ERRORS)


class BoxIn(BaseModel):
    x1: float = Field(ge=0, le=100_000)
    y1: float = Field(ge=0, le=100_000)
    x2: float = Field(ge=0, le=100_000)
    y2: float = Field(ge=0, le=100_000)


class DetectionIn(BaseModel):
    class_id: int | None = Field(
        default=None,
        ge=0,
        le=10_000,
        description="Ignored when the frame's product has a class map (the product's id of the class is "
        "used); required otherwise.",
    )
    class_name: str = Field(
        min_length=1,
        max_length=64,
        description="A class of the frame's product (a former or merged name maps to its current class; "
        "another name is a 400); free when the product has no class map.",
    )
    box: BoxIn


class ReviewIn(BaseModel):
    action: ReviewAction
    detections: list[DetectionIn] = Field(
        default_factory=list, max_length=500, description="Only for 'correct': the true boxes."
    )
    comment: str | None = Field(default=None, max_length=1000)
    review_ms: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REVIEW_MS,
        description="Milliseconds from showing the frame to the reviewer to this submit (the review page "
        "measures it); stored with the review for GET /stats/reviews.",
    )


class QueueItemOut(InspectionOut):
    priority: float = Field(description="0.40 uncertainty + 0.35 rarity + 0.25 disagreement (docs/api.md).")
    reason: str = Field(description="Why the frame is offered, e.g. 'uncertain scratch 0.48'.")
    uncertainty: float
    rarity: float
    disagreement: float


QUEUE_ITEMS = TypeAdapter(list[QueueItemOut])


def _boxes(items: list[DetectionIn], cmap: Product | None, product: str | None) -> tuple[Detection, ...]:
    out = []
    for i, d in enumerate(items):
        try:
            box = Box(**d.box.model_dump())
        except ValueError as exc:
            raise InvalidRequestError(f"detections[{i}].box: {exc}") from exc
        class_id = d.class_id
        if cmap is not None:
            class_id = 0  # replaced by the product's id of the class (resolve_detections)
        elif class_id is None:
            raise InvalidRequestError(f"detections[{i}].class_id is required: {no_class_map_note(product)}")
        out.append(Detection(class_id=class_id, class_name=d.class_name, confidence=1.0, box=box))
    return tuple(out)


@router.get("/queue", response_model=list[QueueItemOut], summary="Review queue", **needs(Role.SUPERVISOR))
def queue(
    ctx: Annotated[AppContext, Depends(get_ctx)],
    line_id: IdText | None = None,
    order: QueueOrder = QueueOrder.PRIORITY,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """UNCERTAIN and sampled inspections with a stored frame and no review yet. ``order=priority`` (default):
    the frames that teach the model most first (uncertain, rare or new class, shadow disagreement, plus a
    small recency term), each with the ``reason`` it is offered; ``newest`` / ``oldest``: by time."""
    with ctx.db.session() as s:
        rows = review_queue(s, line_id, limit, order)
        dets = detections_of(s, [r.event_id for r in rows if r.n_detections])
    items = [
        {
            **r._mapping,
            "reason": shown_reason(r.reason, r.verdict, r.sample_reason),
            "detections": [detection_dict(d) for d in dets.get(r.event_id, ())],
        }
        for r in rows
    ]
    # Validated once here; returning the JSON skips FastAPI's second validation of the response model.
    return Response(QUEUE_ITEMS.dump_json(QUEUE_ITEMS.validate_python(items)), media_type="application/json")


def submit_review(ctx: AppContext, principal: Principal, event_id: str, body: ReviewIn) -> Label:
    """Publish the Label (acknowledged by Kafka) then record it. Used by the API route and the dashboard.

    When the frame's product is in the catalog, every box's class is resolved through its class map
    (current name and id; :class:`UnknownClassError` before anything is published for another class)."""
    if body.action is not ReviewAction.CORRECT and body.detections:
        raise InvalidRequestError(f"'{body.action.value}' takes no detections; use 'correct' to supply boxes")
    with ctx.db.session() as s:
        insp = get_inspection(s, event_id)
        model_dets = detections_of(s, [event_id])[event_id]
    cmap = class_map(ctx.products, insp.product)
    if body.action is ReviewAction.CONFIRM:
        detections = tuple(
            Detection(
                class_id=d.class_id,
                class_name=d.class_name,
                confidence=1.0,
                box=Box(x1=d.x1, y1=d.y1, x2=d.x2, y2=d.y2),
            )
            for d in model_dets
        )
    else:
        detections = _boxes(body.detections, cmap, insp.product)
    if cmap is not None:  # nothing is published when a class is not the product's
        confirm = body.action is ReviewAction.CONFIRM
        hint = "; correct the box's class instead of confirming" if confirm else ""
        detections = resolve_detections(cmap, detections, hint=hint)
    label = Label(
        line_id=insp.line_id,
        station_id=insp.station_id,
        agent_id=insp.agent_id,
        outcome_event_id=insp.event_id,
        frame_sha256=insp.frame_sha256,
        product=insp.product,
        action=body.action,
        detections=detections,
        reviewer=principal.name,
        comment=body.comment,
    )
    ctx.publish(TopicRole.LABELS, label)
    LABELS_PUBLISHED.inc()
    row = label_row(label) | {"review_ms": body.review_ms}
    with ctx.db.engine.begin() as conn:
        store_review(conn, row)
    if body.review_ms is not None:
        REVIEW_SECONDS.observe(body.review_ms / 1000)
    return label


@router.post(
    "/{event_id}",
    response_model=ReviewOut,
    status_code=201,
    summary="Review an inspection",
    responses={400: {"model": ErrorOut, "description": "A class that the frame's product does not have"}},
    **needs(Role.SUPERVISOR),
)
def review(
    event_id: EventId,
    body: ReviewIn,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    principal: Annotated[Principal, Depends(require(Role.SUPERVISOR))],
) -> ReviewOut:
    """``confirm``: the model's boxes are right; ``reject``: no defect (no boxes); ``correct``: the true
    boxes.

    The resulting ``Label`` is produced to the labels topic (acknowledged before this returns) with
    ``reviewer`` = the token's name, and stored in the review history. 503 if Kafka does not acknowledge.

    Classes: when the frame's product is in the product catalog (``GET /products/{name}``), each box's
    class name must be one of its classes (a former name or a merged class maps to the current class; the
    label carries the current name and the product's class id, whatever ``class_id`` says); another name is
    a 400 (``unknown_class``) and nothing is published. Without a product, or one the catalog lacks, class
    names are free and ``class_id`` is required.
    """
    label = submit_review(ctx, principal, event_id, body)
    return review_out(label_row(label))
