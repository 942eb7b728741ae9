"""``factoryloop stack``: fetch, start, stop and inspect the local Kafka + MLflow stack."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from factoryloop.stack.errors import StackError
from factoryloop.stack.local import SERVICES, LocalStack
from factoryloop.stack.process import log_tail
from factoryloop.stack.settings import StackSettings

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


def _stack() -> LocalStack:
    # kafka-python logs every connection at INFO: keep the command's output to what the user asked for.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    return LocalStack(StackSettings())


def _fail(exc: StackError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


@app.command()
def fetch() -> None:
    """Download the Apache Kafka jars with Maven (once; cached under $FACTORYLOOP_HOME/jars)."""
    try:
        path = _stack().fetch()
    except StackError as exc:
        raise _fail(exc) from exc
    typer.echo(f"Kafka jars in {path}")


@app.command()
def up(
    cluster: Annotated[bool, typer.Option("--cluster", help="Run a 3-node Kafka cluster (RF 3).")] = False,
    mlflow: Annotated[bool, typer.Option("--mlflow/--no-mlflow", help="Also start MLflow.")] = True,
    api: Annotated[
        bool, typer.Option("--api/--no-api", help="Also start the defect API + dashboard.")
    ] = True,
) -> None:
    """Start Kafka, MLflow and the API (idempotent) and create factoryloop's topics."""
    stack = _stack()
    try:
        for line in stack.up(cluster=cluster, mlflow=mlflow, api=api and mlflow):
            typer.echo(line)
    except StackError as exc:
        raise _fail(exc) from exc


@app.command()
def down() -> None:
    """Stop every service of the local stack (data is kept)."""
    for line in _stack().down():
        typer.echo(line)


@app.command()
def status() -> None:
    """Address and health of each service; exit code 1 when one is down or unhealthy."""
    ok = True
    for svc in _stack().status():
        state = "healthy" if svc.healthy else ("running, not healthy" if svc.running else "stopped")
        pids = f" (pid {', '.join(map(str, svc.pids))})" if svc.pids else ""
        typer.echo(f"{svc.name:<14} {svc.address:<50} {state}{pids}")
        ok = ok and svc.healthy
    if not ok:
        raise typer.Exit(code=1)


@app.command()
def logs(
    service: Annotated[str | None, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines from the end of each log.")] = 50,
) -> None:
    """Print the end of the services' log files."""
    stack = _stack()
    names = [service] if service else list(SERVICES)
    try:
        for name in names:
            for path in stack.log_files(name):
                if service or path.exists():
                    typer.echo(f"==> {path} <==")
                    typer.echo(log_tail(path, lines))
    except StackError as exc:
        raise _fail(exc) from exc
