"""heartbeat figures: each stored heartbeat keeps the agent's latency p50/p99, buffered records, dropped
frames and errors (the last two counters since its start), for the agent page's history charts; null in rows
stored before

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = (
    ("latency_p50_ms", sa.Float),
    ("latency_p99_ms", sa.Float),
    ("buffer_records", sa.Integer),
    ("frames_dropped", sa.Integer),
    ("errors", sa.Integer),
)


def upgrade() -> None:
    with op.batch_alter_table("heartbeats", schema=None) as batch_op:
        for name, kind in COLUMNS:
            batch_op.add_column(sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("heartbeats", schema=None) as batch_op:
        for name, _kind in reversed(COLUMNS):
            batch_op.drop_column(name)
