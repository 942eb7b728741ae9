"""Apply the Alembic migrations under ``api/migrations`` (at startup and by ``factoryloop api migrate``)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from api.errors import MigrationError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent)."""
    try:
        command.upgrade(alembic_config(engine), revision)
    except Exception as exc:
        raise MigrationError(f"database migration to {revision} failed on {engine.url!r}: {exc}") from exc
    logger.info("database schema at %s (%s)", revision, engine.url.get_backend_name())
