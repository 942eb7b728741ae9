"""class sightings: first/last detection and count per line and class (for first-seen), backfilled

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "class_sightings",
        sa.Column("line_id", sa.String(length=128), nullable=False),
        sa.Column("class_name", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("first_ts", sa.DateTime(), nullable=False),
        sa.Column("last_ts", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("line_id", "class_name"),
    )
    # The hourly detections already exclude shadow outcomes; first-seen counts FAIL/UNCERTAIN only.
    op.execute(
        "INSERT INTO class_sightings (line_id, class_name, n, first_ts, last_ts) "
        "SELECT line_id, class_name, SUM(n), MIN(first_ts), MAX(last_ts) FROM hourly_detections "
        "WHERE verdict <> 'PASS' GROUP BY line_id, class_name"
    )


def downgrade() -> None:
    op.drop_table("class_sightings")
