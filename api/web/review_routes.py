"""The review page's script talks to these (the cookie's token, same origin only): further batches of the
queue, and each decision, posted as the API's :class:`~api.routes.review.ReviewIn` (action, detections,
comment, ``review_ms`` = the time from showing the frame to the decision) and stored by the same
``submit_review`` as ``POST /api/v1/review/{event_id}``. Errors are the API's JSON errors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.context import AppContext, get_ctx
from api.errors import ForbiddenError, UnauthorizedError
from api.routes.common import EventId
from api.routes.review import ReviewIn, submit_review
from api.security import Principal, Role
from api.web.pages import _same_origin, _user
from api.web.review import MAX_BATCH, QUEUE_SIZE, pace, queue_batch, queue_order

router = APIRouter(include_in_schema=False)


def _reviewer(request: Request) -> Principal:
    user = _user(request)
    if user is None:
        raise UnauthorizedError("not logged in (or the token expired): log in again at /ui/login")
    if not user.role.allows(Role.SUPERVISOR):
        raise ForbiddenError(f"reviews need role 'supervisor' or higher; '{user.name}' has '{user.role}'")
    return user


@router.get("/ui/review/items", response_model=None)
def review_items(
    request: Request,
    ctx: Annotated[AppContext, Depends(get_ctx)],
    line_id: Annotated[str | None, Query(max_length=128)] = None,
    order: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_BATCH)] = QUEUE_SIZE,
) -> JSONResponse:
    """The next batch of the queue (the page skips the frames it already holds) and the time per review."""
    _reviewer(request)
    line = line_id or None
    batch = queue_batch(ctx, line, queue_order(order), limit)
    return JSONResponse(batch | {"pace": pace(ctx, line)})


@router.post("/ui/review/{event_id}/decision", status_code=201, response_model=None)
async def review_decision(
    request: Request, event_id: EventId, body: ReviewIn, ctx: Annotated[AppContext, Depends(get_ctx)]
) -> JSONResponse:
    """One frame's decision, as ``POST /api/v1/review/{event_id}`` takes it; 201 once Kafka acknowledged
    the label and it is stored."""
    user = _reviewer(request)
    if not _same_origin(request):
        raise ForbiddenError("cross-origin review refused: post from the dashboard's own page")
    label = await run_in_threadpool(submit_review, ctx, user, event_id, body)
    return JSONResponse(
        {"event_id": label.event_id, "outcome_event_id": event_id, "action": label.action.value},
        status_code=201,
    )
