"""query index (line, verdict, ts) and hourly summary tables, backfilled from the stored rows

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 07:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_KEYS = ("hour", "line_id", "station_id", "product", "verdict")


def _hour(column: str) -> str:
    """SQL of the UTC hour containing ``column``, in the column's own storage format."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text: keep that exact shape.
        return f"strftime('%Y-%m-%d %H:00:00.000000', {column})"
    return f"date_trunc('hour', {column})"


def upgrade() -> None:
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inspections_line_verdict_ts", ["line_id", "verdict", "ts", "id"], unique=False
        )
    op.create_table(
        "hourly_inspections",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("line_id", sa.String(length=128), nullable=False),
        sa.Column("station_id", sa.String(length=128), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*_KEYS),
    )
    op.create_table(
        "hourly_detections",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("line_id", sa.String(length=128), nullable=False),
        sa.Column("station_id", sa.String(length=128), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("class_name", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("first_ts", sa.DateTime(), nullable=False),
        sa.Column("last_ts", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(*_KEYS, "class_name"),
    )
    # Backfill from what is stored (shadow outcomes are never counted), in the migration's transaction.
    op.execute(
        "INSERT INTO hourly_inspections (hour, line_id, station_id, product, verdict, n) "
        f"SELECT {_hour('ts')}, line_id, station_id, COALESCE(product, ''), verdict, COUNT(*) "
        "FROM inspections WHERE NOT shadow GROUP BY 1, 2, 3, 4, 5"
    )
    op.execute(
        "INSERT INTO hourly_detections "
        "(hour, line_id, station_id, product, verdict, class_name, n, first_ts, last_ts) "
        f"SELECT {_hour('d.ts')}, d.line_id, d.station_id, COALESCE(i.product, ''), d.verdict, d.class_name, "
        "COUNT(*), MIN(d.ts), MAX(d.ts) "
        "FROM detections d LEFT JOIN inspections i ON i.event_id = d.outcome_event_id "
        "WHERE NOT d.shadow GROUP BY 1, 2, 3, 4, 5, 6"
    )


def downgrade() -> None:
    op.drop_table("hourly_detections")
    op.drop_table("hourly_inspections")
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.drop_index("ix_inspections_line_verdict_ts")
