"""``factoryloop api``: serve the API (with its sink), run the sink alone, migrate, create tokens, prune."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from api.security import NAME_PATTERN, Role
from api.settings import get_settings

logger = logging.getLogger(__name__)

app = typer.Typer(help="Serve the defect API and manage tokens.", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default FACTORYLOOP_API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default FACTORYLOOP_API_PORT)")] = None,
    sink: Annotated[
        bool, typer.Option("--sink/--no-sink", help="Run the Kafka sink in a background thread")
    ] = True,
) -> None:
    """Run the HTTP API and dashboard with uvicorn (migrations applied at startup)."""
    import uvicorn

    from api.app import create_app
    from api.errors import InsecureSettingsError
    from api.heap import freeze_startup_heap
    from api.kafka_link import QuietWhileDown

    settings = get_settings()
    try:
        application = create_app(settings, run_sink=sink and settings.run_sink)
    except InsecureSettingsError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    quiet = QuietWhileDown(application.state.ctx.link)
    for handler in logging.getLogger().handlers:  # one line per outage, not kafka-python's per attempt
        handler.addFilter(quiet)
    freeze_startup_heap()  # garbage-collector pauses were the p99 of the query routes
    uvicorn.run(application, host=host or settings.host, port=port or settings.port, log_level="info")


@app.command()
def migrate() -> None:
    """Apply database migrations up to the latest revision."""
    from api.db.engine import Database
    from api.db.migrate import upgrade

    db = Database(get_settings().database_url)
    upgrade(db.engine)
    db.dispose()
    typer.echo("database schema up to date")


@app.command("create-token")
def create_token_cmd(
    role: Annotated[Role, typer.Option(help="supervisor, engineer or admin")],
    name: Annotated[str, typer.Option(help="Who uses the token (reviewer name on labels)")],
    expires_in_days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Valid for this many days (default: no expiry)"),
    ] = None,
) -> None:
    """Create a token and print it (it is stored hashed and cannot be shown again)."""
    import re

    from api.db.engine import Database
    from api.db.migrate import upgrade
    from api.errors import InsecureSettingsError
    from api.security import create_token, expiry

    if not re.match(NAME_PATTERN, name):
        raise typer.BadParameter(f"name must match {NAME_PATTERN}", param_hint="--name")
    settings = get_settings()
    try:
        settings.check_site_secrets()  # a token hashed with the placeholder pepper would be refused later
    except InsecureSettingsError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    expires_at = expiry(expires_in_days)
    db = Database(settings.database_url)
    upgrade(db.engine)
    token = create_token(
        db, name, role, settings.token_pepper.get_secret_value(), created_by="cli", expires_at=expires_at
    )
    db.dispose()
    typer.echo(token)
    if expires_at is not None:
        typer.echo(f"expires on {expires_at:%Y-%m-%d %H:%M:%S} UTC", err=True)


@app.command("validate-alerts")
def validate_alerts(path: Annotated[Path, typer.Argument(help="Alert rules YAML.")]) -> None:
    """Check an alerts file; print each problem with its YAML path (exit 1 if any)."""
    from api.alerts.config import load_alerts
    from api.alerts.errors import AlertConfigError

    try:
        config = load_alerts(path)
    except AlertConfigError as exc:
        typer.echo(f"{exc.source}: {len(exc.errors)} problem(s)", err=True)
        for problem in exc.errors:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None
    for rule in config.rules:
        typer.echo(f"rule {rule.name}: {rule.type}, {rule.severity.value}, cool-down {rule.cooldown_s:g} s")
    for channel in config.channels:
        typer.echo(f"channel {channel.name}: {channel.type}, from {channel.min_severity.value}")
    typer.echo(f"{path}: OK ({len(config.rules)} rule(s), {len(config.channels)} channel(s))")


@app.command()
def prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; change nothing.")] = False,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only this kind (repeatable; default: every kind).")
    ] = None,
) -> None:
    """Delete what is older than each kind's retention (FACTORYLOOP_API_RETENTION_*_DAYS), in short batches;
    never a frame or outcome a queued or kept review needs (docs/operations.md "Retention")."""
    from rich.console import Console

    from api.db.engine import Database
    from api.db.migrate import upgrade
    from api.frames.store import LocalFrameStore
    from api.retention import Kind, RetentionPolicy, run_retention
    from factoryloop.retention import figures_table, progress_bar, summary_line

    known = {k.value: k for k in Kind}
    unknown = sorted(set(kind or ()) - set(known))
    if unknown:
        raise typer.BadParameter(f"unknown kind(s) {unknown}; known: {sorted(known)}", param_hint="--kind")
    settings = get_settings()
    db = Database(settings.database_url)
    upgrade(db.engine)  # the retention indexes (0011); nothing to do on an up-to-date schema
    console = Console(stderr=True)
    try:
        with progress_bar(console) as bar:
            tasks: dict[Kind, object] = {}

            def advance(k: Kind, done: int, total: int) -> None:
                if k not in tasks:
                    tasks[k] = bar.add_task(k.value, total=total)
                bar.update(tasks[k], completed=done)  # type: ignore[arg-type]

            figures = run_retention(
                db,
                LocalFrameStore(settings.frames_dir),
                RetentionPolicy.from_settings(settings),
                dry_run=dry_run,
                progress=advance,
                kinds={known[k] for k in kind} if kind else None,
            )
    finally:
        db.dispose()
    out = Console()
    out.print(figures_table("API retention" + (" (dry run)" if dry_run else ""), figures, dry_run=dry_run))
    out.print(summary_line(figures, dry_run=dry_run))


@app.command()
def sink(
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            "-p",
            min=1,
            max=64,
            help="Sink processes in the consumer group (one per core; more than the partitions sit idle).",
        ),
    ] = 1,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            max=65535,
            help="Serve /metrics here; N processes on this port and the next N-1 "
            "(default FACTORYLOOP_API_SINK_METRICS_PORT; 0: none).",
        ),
    ] = None,
) -> None:
    """Run the Kafka sink in the foreground (SIGTERM or Ctrl-C stops it after the current batch)."""
    from api.db.engine import Database
    from api.db.migrate import upgrade
    from api.sink.processes import run_one, run_processes
    from factoryloop.errors import ConfigError

    settings = get_settings()
    port = settings.sink_metrics_port if metrics_port is None else metrics_port
    if port and port + processes - 1 > 65535:
        raise typer.BadParameter(f"{processes} processes need ports {port}..{port + processes - 1}")
    db = Database(settings.database_url)
    upgrade(db.engine)  # once, before any process writes
    db.dispose()
    if processes == 1:
        try:
            run_one(port)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        return
    raise typer.Exit(run_processes(processes, metrics_port=port))
