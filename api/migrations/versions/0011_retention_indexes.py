"""retention indexes: the walks of ``factoryloop api prune`` (frames by arrival, heartbeats and agent events
by time) and its checks that a frame is still queued for review or reviewed (by the frame's sha256)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_frames_received", "frames", ["received_at", "sha256"]),
    ("ix_heartbeats_ts", "heartbeats", ["ts", "id"]),
    ("ix_agent_events_ts", "agent_events", ["ts", "id"]),
    ("ix_reviews_frame", "reviews", ["frame_sha256"]),
    ("ix_review_queue_sha256", "review_queue", ["frame_sha256"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
