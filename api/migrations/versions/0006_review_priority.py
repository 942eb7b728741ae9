"""review priority: the review queue (priority, reason, rank), per-day class counts, review time and product
on reviews; the queue and the day counts backfilled from the stored rows

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# api.services.priority at the time of this migration (the backfill's formula; the sink computes the rest).
W_UNCERTAIN = 0.40
RECENCY_PER_DAY = 0.02


def _sql(sqlite: str, postgresql: str) -> str:
    return sqlite if op.get_bind().dialect.name == "sqlite" else postgresql


def _backfill_queue() -> None:
    """Every non-shadow UNCERTAIN or sampled inspection without a review, scored on uncertainty only (against
    a 0.5 threshold: the per-class thresholds are JSON; no rarity or disagreement for rows stored before)."""
    days = _sql("(julianday(i.ts) - 2440587.5)", "(EXTRACT(EPOCH FROM i.ts) / 86400.0)")
    greatest = _sql("MAX", "GREATEST")
    u = (
        f"{greatest}(CASE WHEN i.verdict = 'UNCERTAIN' THEN 0.5 ELSE 0.0 END, COALESCE(("
        "SELECT MAX(1.0 - ABS(d.confidence - 0.5) * 2.0) FROM detections d "
        "WHERE d.outcome_event_id = i.event_id), 0.0))"
    )
    op.execute(
        "INSERT INTO review_queue (outcome_event_id, ts, captured_at, line_id, product, agent_id, frame_id, "
        "frame_sha256, uncertainty, rarity, disagreement, priority, rank, reason) "
        "SELECT event_id, ts, captured_at, line_id, product, agent_id, frame_id, frame_sha256, u, 0.0, 0.0, "
        f"{W_UNCERTAIN} * u, {W_UNCERTAIN} * u + {RECENCY_PER_DAY} * days, "
        "CASE WHEN u >= 0.5 THEN 'uncertain' ELSE '' END FROM ("
        "SELECT i.event_id, i.ts, i.captured_at, i.line_id, i.product, i.agent_id, i.frame_id, "
        "i.frame_sha256, "
        f"{u} AS u, {days} AS days FROM inspections i "
        "WHERE NOT i.shadow AND (i.verdict = 'UNCERTAIN' OR i.sample_reason IS NOT NULL) "
        "AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.outcome_event_id = i.event_id)) AS c"
    )


def upgrade() -> None:
    op.create_table(
        "class_days",
        sa.Column("line_id", sa.String(length=128), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("class_name", sa.String(length=64), nullable=False),
        sa.Column("day", sa.DateTime(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("line_id", "product", "class_name", "day"),
    )
    day = _sql("strftime('%Y-%m-%d 00:00:00.000000', hour)", "date_trunc('day', hour)")
    op.execute(  # the hourly detections already exclude shadow outcomes and say '' for no product
        "INSERT INTO class_days (line_id, product, class_name, day, n) "
        f"SELECT line_id, product, class_name, {day}, SUM(n) FROM hourly_detections GROUP BY 1, 2, 3, 4"
    )
    op.create_table(
        "review_queue",
        sa.Column("outcome_event_id", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("captured_at", sa.DateTime(), nullable=False),
        sa.Column("line_id", sa.String(length=128), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=True),
        sa.Column("agent_id", sa.String(length=128), nullable=False),
        sa.Column("frame_id", sa.String(length=64), nullable=False),
        sa.Column("frame_sha256", sa.String(length=64), nullable=False),
        sa.Column("uncertainty", sa.Float(), nullable=False),
        sa.Column("rarity", sa.Float(), nullable=False),
        sa.Column("disagreement", sa.Float(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("rank", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("outcome_event_id"),
    )
    _backfill_queue()  # before the indexes: one sort per index instead of row-by-row maintenance
    op.create_index("ix_review_queue_rank", "review_queue", ["rank", "ts", "outcome_event_id"])
    op.create_index(
        "ix_review_queue_line_rank", "review_queue", ["line_id", "rank", "ts", "outcome_event_id"]
    )
    op.create_index("ix_review_queue_ts", "review_queue", ["ts", "outcome_event_id"])
    op.create_index("ix_review_queue_line_ts", "review_queue", ["line_id", "ts", "outcome_event_id"])
    op.create_index("ix_review_queue_frame", "review_queue", ["agent_id", "frame_id"])
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("review_ms", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("offered_for", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_reviews_ts", ["ts"], unique=False)
    op.execute(
        "UPDATE reviews SET product = "
        "(SELECT i.product FROM inspections i WHERE i.event_id = reviews.outcome_event_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_ts")
        batch_op.drop_column("offered_for")
        batch_op.drop_column("priority")
        batch_op.drop_column("review_ms")
        batch_op.drop_column("product")
    op.drop_table("review_queue")
    op.drop_table("class_days")
