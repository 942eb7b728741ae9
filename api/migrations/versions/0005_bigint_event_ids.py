"""64-bit row ids on PostgreSQL for the tables that grow with traffic (inspections, reviews, heartbeats,
agent events); SQLite's INTEGER PRIMARY KEY is 64-bit already (nothing to do there)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("inspections", "reviews", "heartbeats", "agent_events")


def _retype(to: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(
            table,
            "id",
            type_=sa.BigInteger() if to == "bigint" else sa.Integer(),
            existing_nullable=False,
            existing_server_default=sa.text(f"nextval('{table}_id_seq'::regclass)"),
        )
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS {to}")


def upgrade() -> None:
    _retype("bigint")


def downgrade() -> None:
    _retype("integer")
