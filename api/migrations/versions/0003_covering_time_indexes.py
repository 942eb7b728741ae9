"""covering time indexes: the partial-hour edges of stats ranges read indexes only

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 07:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INSPECTIONS = ["ts", "id", "line_id", "station_id", "verdict", "shadow"]
DETECTIONS = ["ts", "line_id", "station_id", "class_name", "verdict", "shadow"]


def upgrade() -> None:
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.create_index("ix_inspections_ts_cover", INSPECTIONS, unique=False)
        batch_op.drop_index("ix_inspections_ts_id")  # a prefix of the new one
    with op.batch_alter_table("detections", schema=None) as batch_op:
        batch_op.create_index("ix_detections_ts_cover", DETECTIONS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("detections", schema=None) as batch_op:
        batch_op.drop_index("ix_detections_ts_cover")
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.create_index("ix_inspections_ts_id", ["ts", "id"], unique=False)
        batch_op.drop_index("ix_inspections_ts_cover")
