"""``backup create``: one archive of a home's state while its services keep running.

Order matters for what the archive references: each database is snapshotted before the files it points at
are copied (the API database before the frame store, MLflow's before its artifacts, the dataset index before
its images), and every writer stores a file before the row naming it commits, so each row of a snapshot finds
its file in the archive (files newer than the snapshot are kept too, harmlessly).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import shutil
import socket
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from factoryloop.backup import postgres
from factoryloop.backup.archive import is_tarball, write_tarball
from factoryloop.backup.errors import BackupError
from factoryloop.backup.manifest import MANIFEST, Component, Manifest, dump_manifest
from factoryloop.backup.progress import Reporter
from factoryloop.backup.sources import (
    API_DB,
    API_FRAMES,
    DATASETS,
    MLFLOW_ARTIFACTS,
    MLFLOW_DB,
    TRAINING,
    Sources,
    local_folder,
)
from factoryloop.backup.tree import TreeCopier

logger = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for dist in ("factoryloop", "mlflow-skinny", "alembic"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


class _Backup:
    def __init__(self, staging: Path, reporter: Reporter, pg_bin: Path | None) -> None:
        self.staging = staging
        self.copier = TreeCopier(staging, reporter)
        self.pg_bin = pg_bin
        self.versions = _versions()

    def database(self, name: str, url: str, target: str) -> Component:
        """A SQLite file (snapshot, restored at ``target``) or a PostgreSQL database (``pg_dump -Fc``)."""
        shown = postgres.redact(url)
        if postgres.is_postgres(url):
            rel = f"postgres/{name}.pgdump"
            self.versions["pg_dump"] = postgres.version("pg_dump", self.pg_bin)
            postgres.dump(url, self.staging / rel, self.pg_bin)
            size = self.copier.record(rel)
            return Component(
                name=name, kind="pg_dump", source=shown, files=1, bytes=size, details={"file": rel}
            )
        path = postgres.sqlite_path(url)
        if path is None:
            return Component(
                name=name,
                kind="sqlite",
                source=shown,
                skipped=f"unsupported database URL {shown}: back it up with its own tools",
            )
        if not path.is_file():
            return Component(name=name, kind="sqlite", source=str(path), skipped=f"no database file {path}")
        return self.copier.sqlite_file(name, path, target)


def _check_out(out: Path, sources: Sources) -> None:
    if out.exists():
        raise BackupError(f"{out} exists already: give a new name (backups are never overwritten)")
    parent = out.parent.resolve()
    folders = [sources.frames_dir, sources.datasets_dir, sources.training_state_dir]
    folders += [f for f in (local_folder(sources.mlflow_artifacts),) if f is not None]
    for folder in folders:
        if parent.is_relative_to(folder.resolve()):
            raise BackupError(f"{out} is inside {folder}, which the backup copies: write it elsewhere")


def create_backup(
    out: Path, sources: Sources, *, reporter: Reporter | None = None, pg_bin: Path | None = None
) -> tuple[Path, Manifest]:
    """Write the archive ``out`` (a folder; a ``.tar.gz`` when so named) of ``sources``; returns its path
    and manifest. Nothing is stopped: SQLite through the backup API, PostgreSQL through ``pg_dump``. Written
    beside ``out`` under a temporary name and renamed when complete."""
    reporter = reporter or Reporter()
    out = out.expanduser()
    _check_out(out, sources)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    try:
        manifest = Manifest(created_at=_now(), host=socket.gethostname(), home=str(sources.home))
        job = _Backup(staging, reporter, pg_bin)
        copier = job.copier
        artifacts = local_folder(sources.mlflow_artifacts)
        manifest.components = [
            job.database("api-db", sources.api_db_url, API_DB),
            copier.tree("api-frames", sources.frames_dir, API_FRAMES),
            job.database("mlflow-db", sources.mlflow_backend_uri, MLFLOW_DB),
            copier.tree("mlflow-artifacts", artifacts, MLFLOW_ARTIFACTS)
            if artifacts is not None
            else Component(
                name="mlflow-artifacts",
                kind="files",
                source=sources.mlflow_artifacts,
                skipped="not a local folder: back the artifact store up with its own tools",
            ),
            copier.tree("datasets", sources.datasets_dir, DATASETS),
            copier.tree("training-state", sources.training_state_dir, TRAINING, only_sqlite=True),
        ]
        manifest.versions = job.versions
        manifest.files = dict(sorted(copier.files.items()))
        manifest.finished_at = _now()
        (staging / MANIFEST).write_bytes(dump_manifest(manifest))
        if is_tarball(out):
            partial = out.with_name(f".{out.name}.partial")
            try:
                write_tarball(staging, partial, manifest, reporter)
                os.replace(partial, out)
            finally:
                partial.unlink(missing_ok=True)
        else:
            os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for c in manifest.components:
        if c.skipped:
            logger.warning("backup: %s skipped: %s", c.name, c.skipped)
    logger.info("backup %s: %d files, %d bytes", out, len(manifest.files), manifest.total_bytes)
    return out, manifest
