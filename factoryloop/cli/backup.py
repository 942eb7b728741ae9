"""``factoryloop backup``: create, verify and restore an archive of a home's state (docs/backup.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from factoryloop.backup import (
    BackupError,
    Manifest,
    create_backup,
    discover,
    restore_backup,
    verify_archive,
)
from factoryloop.backup.manifest import manifest_digest
from factoryloop.backup.progress import Reporter

app = typer.Typer(no_args_is_help=True, help="Back up and restore the API, MLflow and the dataset store.")
console = Console(stderr=True)
out = Console()

PgBin = Annotated[
    Path | None, typer.Option("--pg-bin", help="Folder of pg_dump/pg_restore/psql (default: PATH).")
]


class RichReporter(Reporter):
    """A rich bar per task: bytes done, speed and time left."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def begin(self, label: str, total_bytes: int) -> None:
        self.task = self.progress.add_task(label, total=max(total_bytes, 1))

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)

    def end(self) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[self.task].total)
            self.task = None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(str(exc))}")
    return typer.Exit(1)


def _summary(manifest: Manifest) -> None:
    table = Table("component", "kind", "source", "files", "bytes", "note")
    for c in manifest.components:
        note = f"skipped: {c.skipped}" if c.skipped else ""
        extra = c.details.get("skipped_files")
        if extra:
            note = "left out: " + ", ".join(f"{n} {k}" for k, n in extra.items())
        table.add_row(c.name, c.kind, escape(c.source), str(c.files), f"{c.bytes:,}", escape(note))
    out.print(table)


@app.command()
def create(
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="New folder, or a .tar.gz/.tgz file.")],
    home: Annotated[Path | None, typer.Option(help="Home to back up (default $FACTORYLOOP_HOME).")] = None,
    api_db_url: Annotated[
        str | None, typer.Option(help="API database (default: the API's settings).")
    ] = None,
    frames_dir: Annotated[Path | None, typer.Option(help="API frame store folder.")] = None,
    mlflow_db_url: Annotated[
        str | None,
        typer.Option(help="MLflow backend store (default $MLFLOW_BACKEND_STORE_URI, else the stack's)."),
    ] = None,
    mlflow_artifacts: Annotated[
        str | None, typer.Option(help="MLflow artifact folder (default $MLFLOW_ARTIFACTS_DESTINATION).")
    ] = None,
    datasets: Annotated[
        Path | None, typer.Option(help="Dataset store (default $FACTORYLOOP_DATASETS).")
    ] = None,
    training_state_dir: Annotated[Path | None, typer.Option(help="Trainer state dir.")] = None,
    pg_bin: PgBin = None,
) -> None:
    """Back up a home while its services run (SQLite: online backup API; PostgreSQL: pg_dump)."""
    sources = discover(
        home,
        api_db_url=api_db_url,
        frames_dir=frames_dir,
        mlflow_backend_uri=mlflow_db_url,
        mlflow_artifacts=mlflow_artifacts,
        datasets_dir=datasets,
        training_state_dir=training_state_dir,
    )
    try:
        with _progress() as progress:
            path, manifest = create_backup(out_path, sources, reporter=RichReporter(progress), pg_bin=pg_bin)
    except BackupError as exc:
        raise _fail(exc) from exc
    _summary(manifest)
    out.print(
        f"backup written to {escape(str(path))}: {len(manifest.files)} files, {manifest.total_bytes:,} bytes"
    )
    out.print(f"manifest sha256 {manifest_digest(manifest)} (record it to check the archive later)")


@app.command()
def verify(archive: Annotated[Path, typer.Argument(help="Backup folder or .tar.gz.")]) -> None:
    """Check every file of a backup against its manifest (sha256, size) without restoring it."""
    try:
        with _progress() as progress:
            manifest = verify_archive(archive, RichReporter(progress))
    except BackupError as exc:
        raise _fail(exc) from exc
    _summary(manifest)
    out.print(f"{escape(str(archive))}: OK, {len(manifest.files)} files match (made {manifest.created_at})")
    out.print(f"manifest sha256 {manifest_digest(manifest)}")


@app.command()
def restore(
    archive: Annotated[Path, typer.Argument(help="Backup folder or .tar.gz.")],
    home: Annotated[Path, typer.Option(help="Home to restore into (empty, or --force).")],
    force: Annotated[bool, typer.Option(help="Restore into a non-empty home/database, replacing.")] = False,
    api_db_url: Annotated[
        str | None, typer.Option(help="PostgreSQL database for an API dump (an empty one).")
    ] = None,
    mlflow_db_url: Annotated[
        str | None, typer.Option(help="PostgreSQL database for an MLflow dump (an empty one).")
    ] = None,
    pg_bin: PgBin = None,
) -> None:
    """Restore a backup into a home, after checking every file's sha256."""
    urls = {"api-db": api_db_url, "mlflow-db": mlflow_db_url}
    try:
        with _progress() as progress:
            result = restore_backup(
                archive, home, force=force, database_urls=urls, pg_bin=pg_bin, reporter=RichReporter(progress)
            )
    except BackupError as exc:
        raise _fail(exc) from exc
    for line in result.restored + result.skipped:
        out.print(escape(line), highlight=False)
    out.print(
        f"restored into {escape(str(result.home))}: run the services with FACTORYLOOP_HOME={result.home}"
    )
