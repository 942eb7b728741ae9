"""The rollouts table: every message of the ``rollouts`` topic (re-exported by ``api.db.models``).

Both kinds land here: the requests (``rollout_request``: what an engineer asked, stored with state
``requested``) and the rollout controller's transitions (``rollout_event``). The full payload is kept; the
columns are what the routes filter and sort on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db.base import Base
from api.db.types import UtcDateTime


class RolloutRow(Base):
    """A rollout request or a rollout event, stored once by its ``event_id``."""

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    product: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str | None] = mapped_column(String(64))
    rollout_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(16))  # requests only: deploy | rollback
    model_name: Mapped[str | None] = mapped_column(String(128))
    model_version: Mapped[str | None] = mapped_column(String(64))
    previous_version: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    stage: Mapped[int | None] = mapped_column(Integer)
    stages: Mapped[int | None] = mapped_column(Integer)
    agents: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, float]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(128))  # a request's requested_by, an event's actor
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_rollouts_product_ts", "product", "ts", "id"),
        Index("ix_rollouts_ts", "ts", "id"),
        Index("ix_rollouts_request", "request_id"),
        Index("ix_rollouts_rollout", "rollout_id"),
    )
