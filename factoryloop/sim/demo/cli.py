"""``factoryloop demo run``: the closed loop on the local stack, with real parts, printed as it happens.

It starts the local stack (Kafka + MLflow) if it is not running, then runs
:func:`factoryloop.sim.demo.demo.run_demo` in a fresh work folder with its own topic prefix and product names,
so runs never see each other's data. Two products share the site: the steel plate (its crack drift, retrain
and canary) and a tile line; the second table shows what each product's agent served and refused.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from factoryloop.sim.demo.api import DemoApi
    from factoryloop.sim.demo.options import DemoReport

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
console = Console()


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


@app.command("run")
def run(
    workdir: Annotated[
        Path | None, typer.Option(help="Work folder (default: a new one under $FACTORYLOOP_HOME).")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Smaller sizes: the CI-sized loop.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the simulated line.")] = 11,
    serve: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help="Keep the demo's dashboard up afterwards until Ctrl-C (default: when run in a terminal).",
        ),
    ] = None,
) -> None:
    """Run the closed loop: bootstrap a champion, serve it, drift, review, retrain, gate, canary, recover."""
    os.environ.setdefault("YOLO_VERBOSE", "False")  # Ultralytics' progress bars would drown the demo's story
    # Heavy imports here, so that `factoryloop --help` stays fast.
    from factoryloop.settings import KafkaSettings, factoryloop_home
    from factoryloop.sim.demo.demo import DemoError, run_demo, start_demo_api
    from factoryloop.sim.demo.presets import demo_options, demo_sim_config
    from factoryloop.stack.errors import StackError
    from factoryloop.stack.local import LocalStack
    from factoryloop.stack.settings import StackSettings
    from training.settings import TrainSettings

    logging.getLogger("kafka").setLevel(logging.ERROR)
    stack_settings = StackSettings()
    stack = LocalStack(stack_settings)
    try:
        for line in stack.up(mlflow=True):
            console.print(f"[dim]stack[/dim] {line}")
    except StackError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = workdir or factoryloop_home() / "demo" / stamp
    host = stack_settings.host
    kafka = KafkaSettings(
        bootstrap_servers=f"{host}:{stack_settings.kafka_port}", topic_prefix=f"demo-{stamp}."
    )
    from factoryloop.kafka import ensure_topics

    ensure_topics(kafka)
    opts = demo_options(quick=quick, seed=seed, product=f"plate-{stamp}", second_product=f"tile-{stamp}")
    settings = TrainSettings(
        mlflow_tracking_uri=f"http://{host}:{stack_settings.mlflow_port}",
        state_dir=workdir / "training",
        kafka=kafka,
    )
    console.print(
        f"[bold]factoryloop demo[/bold] in {workdir} "
        f"(topics {kafka.topic_prefix}*, MLflow {settings.mlflow_tracking_uri})"
    )
    started = time.monotonic()
    try:
        api = start_demo_api(kafka, settings, workdir)
    except DemoError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    failed: DemoError | None = None
    try:
        try:
            report = run_demo(
                opts,
                kafka,
                settings,
                demo_sim_config(),
                workdir,
                say=lambda m: console.print(f"- {m}"),
                api=api,
            )
        except DemoError as exc:
            console.print(f"[red]demo failed:[/red] {exc}")
            failed = exc
        else:
            _print_report(report, opts.new_class, time.monotonic() - started)
        if sys.stdin.isatty() if serve is None else serve:
            _serve_dashboard(api)
    finally:
        api.stop()
    if failed is not None:
        raise typer.Exit(1) from failed


def _serve_dashboard(api: DemoApi) -> None:
    """Print the dashboard's address and an engineer's token, and keep the API up until Ctrl-C."""
    token = api.create_token("engineer", f"demo-engineer-{uuid.uuid4().hex[:6]}")
    console.print(
        f"\n[bold]dashboard[/bold] {api.url}/ui/login - token [bold]{token}[/bold] (engineer: review, "
        f"rollouts, retrains). The stack keeps running after Ctrl-C (factoryloop stack down stops it)."
    )
    try:
        while api.proc.poll() is None:
            time.sleep(1.0)
        console.print(f"[red]the dashboard's API exited with {api.proc.returncode}[/red]; see {api.log}")
    except KeyboardInterrupt:
        console.print("dashboard stopped")


def _print_report(report: DemoReport, new_class: str, wall_s: float) -> None:
    table = Table(title=f"closed loop on the simulated line ({wall_s:.0f} s)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(
        f"{new_class} recall, champion {report.champion}",
        f"{_pct(report.recall_before)} of {report.support_before}",
    )
    table.add_row(
        f"{new_class} recall, retrained {report.challenger}",
        f"{_pct(report.recall_after)} of {report.support_after}",
    )
    for name, value in report.other_recall_after.items():
        table.add_row(
            f"{name} recall (before -> after)",
            f"{_pct(report.other_recall_before.get(name))} -> {_pct(value)}",
        )
    table.add_row(
        "frame -> reject signal p50 / p99",
        f"{_ms(report.reject_latency_ms[0])} / {_ms(report.reject_latency_ms[1])}",
    )
    seen = report.seen_to_serving_s
    table.add_row(
        f"first {new_class} seen -> fixed model serving", "n/a" if seen is None else f"{seen:.0f} s"
    )
    for step, secs in report.steps_s.items():
        table.add_row(f"step: {step}", f"{secs:.0f} s")
    table.add_row(
        "reviews (simulated supervisor)", ", ".join(f"{k} {v}" for k, v in sorted(report.reviews.items()))
    )
    at = report.reviews_at_retrain
    table.add_row(
        "reviews when the retrain started",
        f"{at.get('total', 0)} ({at.get(new_class, 0)} showing {new_class})" if at else "n/a",
    )
    table.add_row("retrain trigger", report.trigger)
    for refused in report.refused:
        table.add_row("refused by the gate", refused)
    table.add_row("gate", report.gate)
    table.add_row("edge model", report.edge_model)
    for stage in report.stages:
        table.add_row("rollout stage (from the first new-class outcome)", stage)
    table.add_row("rollout", report.rollout)
    console.print(table)
    if report.lines:
        console.print(_products_table(report))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name or 'not said'} {n}" for name, n in counts.items()) or "none"


def _products_table(report: DemoReport) -> Table:
    """Per product: the models its agent decided with, what it refused, and whether it kept serving."""
    table = Table(title="two products on one site")
    table.add_column("measure")
    for line in report.lines.values():
        table.add_column(f"{line.product} ({line.line_id}, {line.agent_id})")
    lines = list(report.lines.values())
    rows: list[tuple[str, list[str]]] = [
        ("first champion", [line.champion for line in lines]),
        ("serving (last heartbeat)", [line.serving for line in lines]),
        ("outcomes (product on them)", [f"{line.outcomes} ({_counts(line.products)})" for line in lines]),
        ("models that decided them", [_counts(line.served) for line in lines]),
        ("decided by another product's model", [str(line.foreign) for line in lines]),
        ("deployments refused (heartbeat)", [_counts(line.refused) for line in lines]),
        ("why refused (agent events)", ["; ".join(line.refusals) or "-" for line in lines]),
        (
            "decisions after the refusal, own product",
            [f"{line.after_refusal_own} of {line.after_refusal}" if line.refusals else "-" for line in lines],
        ),
        (
            "recall (the model that decided most)",
            [", ".join(f"{k} {_pct(v)}" for k, v in line.recall.items()) or "n/a" for line in lines],
        ),
    ]
    for name, values in rows:
        table.add_row(name, *values)
    table.caption = f"cross-product deployment: {report.cross_product}" if report.cross_product else None
    return table
