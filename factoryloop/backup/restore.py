"""``backup restore`` and ``backup verify``.

A restore checks every file of the archive against the manifest before it writes anything, then extracts
into a temporary folder inside the new home (checked again on the way), moves each component into place
(the home's default layout: ``factoryloop.backup.sources``), ``pg_restore``s PostgreSQL dumps into the URLs
given, and runs ``PRAGMA quick_check`` on every restored SQLite database.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from factoryloop.backup import postgres
from factoryloop.backup.archive import read
from factoryloop.backup.errors import BackupError, TargetNotEmptyError
from factoryloop.backup.manifest import Component, Manifest
from factoryloop.backup.progress import Reporter
from factoryloop.backup.sources import API_DB, API_FRAMES, DATASETS, MLFLOW_ARTIFACTS, MLFLOW_DB, TRAINING
from factoryloop.backup.sqlite_snapshot import SIDECARS, check

logger = logging.getLogger(__name__)

#: Where components go in a home; a restore writes (and with --force replaces) nothing else.
TARGETS = (API_DB, API_FRAMES, MLFLOW_DB, MLFLOW_ARTIFACTS, DATASETS, TRAINING)


@dataclass
class RestoreResult:
    home: Path
    manifest: Manifest
    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def verify_archive(archive: Path, reporter: Reporter | None = None) -> Manifest:
    """Check every file of ``archive`` against its manifest without restoring (:class:`ArchiveError`)."""
    return read(archive.expanduser(), None, reporter)


def _listing(paths: list[str], limit: int = 8) -> str:
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(paths[:limit]) + more


def _running_services(home: Path) -> list[str]:
    """The local-stack services of ``home`` that run now (their pid files say so)."""
    from factoryloop.stack.api_server import ApiServer
    from factoryloop.stack.mlflow_server import MlflowServer
    from factoryloop.stack.settings import get_settings

    port = get_settings().api_port
    api = ApiServer(home / "stack" / "api", port, kafka_bootstrap="", mlflow_uri="")
    mlflow = MlflowServer(home / "stack" / "mlflow", 0)
    return [s.label for s in (api, mlflow) if s.running()]


def _database_urls(manifest: Manifest, urls: dict[str, str | None]) -> dict[str, str]:
    """The target URL of each PostgreSQL dump in the archive (refused before anything is written)."""
    out: dict[str, str] = {}
    for c in manifest.components:
        if c.kind != "pg_dump" or c.skipped:
            continue
        url = urls.get(c.name)
        if not url or not postgres.is_postgres(url):
            option = f"--{c.name}-url"
            raise BackupError(
                f"the archive holds {c.name} as a PostgreSQL dump (from {c.source}): give the database to "
                f"restore it into with {option} postgresql://USER@HOST/DB (an empty database)"
            )
        out[c.name] = url
    return out


def _check_targets(home: Path, force: bool, pg: dict[str, str], pg_bin: Path | None) -> None:
    if home.exists() and not home.is_dir():
        raise BackupError(f"{home} is a file, not a folder")
    present = sorted(p.name for p in home.iterdir()) if home.is_dir() else []
    if present and not force:
        raise TargetNotEmptyError(
            f"{home} is not empty (it holds {_listing(present)}): restore into an empty folder, or add "
            "--force to replace what the backup restores (the rest is kept)"
        )
    if present:
        running = _running_services(home)
        if running:
            raise BackupError(f"{', '.join(running)} of {home} run now: stop them before a --force restore")
    for name, url in pg.items():
        tables = postgres.user_tables(url, pg_bin)
        if tables and not force:
            raise TargetNotEmptyError(
                f"the database for {name} ({postgres.redact(url)}) is not empty (tables "
                f"{_listing(tables)}): give an empty database, or --force to drop what the dump restores"
            )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    for suffix in SIDECARS:  # a stale -wal beside a restored database would be read as its own
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _check_components(manifest: Manifest) -> None:
    """Each component goes to a known place: a manifest naming another path was not written by a backup."""
    for c in manifest.components:
        if not c.skipped and c.kind != "pg_dump" and c.target not in TARGETS:
            raise BackupError(f"{c.name}: unknown restore target {c.target!r} (known: {', '.join(TARGETS)})")


def _place(c: Component, staging: Path, home: Path) -> None:
    assert c.target is not None
    src, dst = staging / c.target, home / c.target
    _remove(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.exists():
        os.replace(src, dst)
    elif c.kind == "files":
        dst.mkdir()  # an empty folder when backed up


def _databases(c: Component, home: Path) -> list[Path]:
    if c.target is None:
        return []
    if c.kind == "sqlite":
        return [home / c.target]
    return [home / c.target / rel for rel in c.details.get("sqlite", {})]


def restore_backup(
    archive: Path,
    home: Path,
    *,
    force: bool = False,
    database_urls: dict[str, str | None] | None = None,
    pg_bin: Path | None = None,
    reporter: Reporter | None = None,
) -> RestoreResult:
    """Restore ``archive`` into ``home``; ``database_urls``: component (``api-db``, ``mlflow-db``) ->
    PostgreSQL URL for the dumps. Refuses a non-empty home (or database) unless ``force``."""
    archive, home = archive.expanduser(), home.expanduser()
    manifest = read(archive, None, reporter)  # every sha256 before anything is written
    _check_components(manifest)
    pg = _database_urls(manifest, database_urls or {})
    _check_targets(home, force, pg, pg_bin)
    home.mkdir(parents=True, exist_ok=True)
    result = RestoreResult(home=home, manifest=manifest)
    staging = Path(tempfile.mkdtemp(dir=home, prefix=".restore-partial-"))
    try:
        read(archive, staging, reporter)
        for c in manifest.components:
            if c.skipped:
                result.skipped.append(f"{c.name}: not in the backup ({c.skipped})")
            elif c.kind == "pg_dump":
                postgres.restore(staging / c.details["file"], pg[c.name], clean=force, pg_bin=pg_bin)
                result.restored.append(f"{c.name}: pg_restore into {postgres.redact(pg[c.name])}")
            else:
                _place(c, staging, home)
                for db in _databases(c, home):
                    check(db)
                where = home / str(c.target)
                result.restored.append(f"{c.name}: {c.files} files, {c.bytes} bytes -> {where}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("restored %s into %s", archive, home)
    return result
