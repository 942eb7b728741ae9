"""``factoryloop agent``: run an edge agent from its line YAML, or validate the YAML."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import typer

from edge_agent.config import load_config
from edge_agent.errors import AgentConfigError, AgentError

app = typer.Typer(
    help="Run and validate the edge agent.", no_args_is_help=True, pretty_exceptions_enable=False
)
logger = logging.getLogger(__name__)


@app.command("validate-config")
def validate_config(path: Path = typer.Argument(..., help="Line YAML to check.")) -> None:
    """Check a line YAML, and it against its ONNX model's metadata (class names, product) when the file
    exists; print each problem with its YAML path (exit 1 if any)."""
    from edge_agent.models.compat import config_problems  # onnxruntime: only for this command

    try:
        cfg = load_config(path)
        problems = config_problems(cfg)
    except AgentConfigError as exc:
        source, problems = exc.source, exc.problems
    else:
        source = str(path)
    if problems:
        typer.echo(f"{source}: {len(problems)} problem(s)", err=True)
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None
    model = "model checked" if cfg.detector.onnx.is_file() else "model file absent: not checked"
    typer.echo(
        f"{path}: OK (agent {cfg.agent_id}, line {cfg.line_id}/{cfg.station_id}, "
        f"product {cfg.product or 'any'}, source {cfg.source.type}, {len(cfg.sinks)} sink(s), {model})"
    )


@app.command("run")
def run(
    config: Path = typer.Option(..., "--config", "-c", help="Line YAML."),
    timeout_s: float | None = typer.Option(None, help="Stop after this many seconds (tests, demos)."),
) -> None:
    """Run the agent until the source ends, SIGTERM/SIGINT, or ``--timeout-s``."""
    from edge_agent.agent import Agent

    try:
        cfg = load_config(config)
        agent = Agent(cfg)
    except AgentConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except AgentError as exc:
        typer.echo(f"agent failed to start: {exc}", err=True)
        raise typer.Exit(1) from None
    stopping = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: stopping gracefully", signal.Signals(signum).name)
        stopping.set()
        agent.stop()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    agent.start()
    try:
        done = agent.wait(timeout_s) if timeout_s is not None else None
        while done is None and not stopping.is_set():
            if agent.wait(0.5):
                break
    finally:
        agent.close()
    logger.info("agent exited (%s)", "signal" if stopping.is_set() else "source ended")
    sys.stdout.flush()
