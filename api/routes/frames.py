"""Frames by sha256: the stored JPEG, optionally with the model's (red) and reviewed (green) boxes drawn."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy import select

from api.context import AppContext, get_ctx
from api.db.models import InspectionRow
from api.frames.overlay import MODEL_COLOR, REVIEW_COLOR, OverlayBox, draw_boxes
from api.routes.common import ERRORS
from api.security import Role, needs
from api.services.inspections import detections_of, reviews_of

router = APIRouter(tags=["frames"], responses=ERRORS)

Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex sha256 of the JPEG")]


def overlay_boxes(ctx: AppContext, sha256: str) -> list[OverlayBox]:
    """Boxes of the latest (non-shadow) inspection of this frame, plus those of its latest review."""
    with ctx.db.session() as s:
        event_id = s.scalar(
            select(InspectionRow.event_id)
            .where(InspectionRow.frame_sha256 == sha256, InspectionRow.shadow.is_(False))
            .order_by(InspectionRow.ts.desc())
            .limit(1)
        )
        if event_id is None:
            return []
        boxes = [
            OverlayBox(d.x1, d.y1, d.x2, d.y2, f"{d.class_name} {d.confidence:.2f}", MODEL_COLOR)
            for d in detections_of(s, [event_id])[event_id]
        ]
        reviews = reviews_of(s, event_id)
    if reviews:
        for d in reviews[-1].detections:
            b = d["box"]
            boxes.append(
                OverlayBox(b["x1"], b["y1"], b["x2"], b["y2"], f"{d['class_name']} (review)", REVIEW_COLOR)
            )
    return boxes


@router.get(
    "/frames/{sha256}",
    summary="A frame (JPEG)",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "The JPEG"},
        404: {"description": "Frame not stored"},
    },
    **needs(Role.SUPERVISOR),
)
def get_frame(
    sha256: Sha256,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    overlay: Annotated[bool, Query(description="Draw detection boxes (model red, review green)")] = False,
) -> Response:
    data = ctx.frames.get(sha256)
    if overlay:
        data = draw_boxes(data, overlay_boxes(ctx, sha256))
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-cache"})
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400, immutable"}
    )
