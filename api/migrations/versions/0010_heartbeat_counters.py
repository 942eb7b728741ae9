"""heartbeat counters: each stored heartbeat keeps the agent's uptime and its late-reject and missed-part
counters, so the ``late_rejects`` alert counts over its window from stored history (an API restart loses
nothing); null in rows stored before

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("heartbeats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uptime_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("late_rejects", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("missed_parts", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("heartbeats", schema=None) as batch_op:
        batch_op.drop_column("missed_parts")
        batch_op.drop_column("late_rejects")
        batch_op.drop_column("uptime_s")
