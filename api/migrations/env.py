"""Alembic environment: runs against the engine passed in ``config.attributes['engine']`` (or the URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from api.db.engine import make_engine
from api.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
