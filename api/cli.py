"""``factoryloop api``: serve the API (with its sink), run the sink alone, migrate, create tokens."""

from __future__ import annotations

import logging
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
    from api.heap import freeze_startup_heap

    settings = get_settings()
    application = create_app(settings, run_sink=sink and settings.run_sink)
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
) -> None:
    """Create a token and print it (it is stored hashed and cannot be shown again)."""
    import re

    from api.db.engine import Database
    from api.db.migrate import upgrade
    from api.security import create_token

    if not re.match(NAME_PATTERN, name):
        raise typer.BadParameter(f"name must match {NAME_PATTERN}", param_hint="--name")
    settings = get_settings()
    db = Database(settings.database_url)
    upgrade(db.engine)
    token = create_token(db, name, role, settings.token_pepper.get_secret_value(), created_by="cli")
    db.dispose()
    typer.echo(token)


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
) -> None:
    """Run the Kafka sink in the foreground (SIGTERM or Ctrl-C stops it after the current batch)."""
    from api.db.engine import Database
    from api.db.migrate import upgrade
    from api.sink.processes import run_one, run_processes

    db = Database(get_settings().database_url)
    upgrade(db.engine)  # once, before any process writes
    db.dispose()
    if processes == 1:
        run_one()
        return
    raise typer.Exit(run_processes(processes))
