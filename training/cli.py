"""``factoryloop train``: ingest, retrain, gate, deploy, rollback, status, watch."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from training import cli_rollout
from training.cli_retrain import retrain
from training.errors import TrainingError

if TYPE_CHECKING:
    from training.registry import ModelRegistry

app = typer.Typer(no_args_is_help=True, help="Ingest, retrain, gate and roll out models.")

Product = Annotated[str, typer.Option("--product", "-p", help="Product (one registered model per product).")]
Store = Annotated[
    Path | None, typer.Option("--store", help="Dataset store root (default $FACTORYLOOP_HOME/datasets).")
]
MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=0,
        max=65535,
        help="Serve /metrics here (default FACTORYLOOP_TRAIN_METRICS_PORT; 0: none).",
    ),
]


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _registry() -> ModelRegistry:
    from training.registry import ModelRegistry
    from training.settings import get_settings

    s = get_settings()
    return ModelRegistry(s.mlflow_tracking_uri, s.registered_model_prefix)


@app.command()
def ingest(
    store: Store = None,
    group: Annotated[str, typer.Option(help="Kafka consumer group.")] = "factoryloop-ingest",
    idle_exit: Annotated[float | None, typer.Option(help="Exit after this many idle seconds.")] = None,
    metrics_port: MetricsPort = None,
) -> None:
    """Consume frames, outcomes and labels into the dataset store (until Ctrl-C, SIGTERM or --idle-exit)."""
    import signal
    import threading

    from factoryloop.errors import ConfigError
    from factoryloop.metrics_http import process_registry, serve_metrics
    from training.datasets import DatasetStore
    from training.ingest import Ingestor
    from training.ingest.metrics import IngestCollector
    from training.settings import get_settings

    s = get_settings()
    pseudo = s.pseudo_label_min_confidence
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with (
        DatasetStore(store) as ds,
        Ingestor(ds, s.kafka, group_id=group, pseudo_min_confidence=pseudo) as ing,
    ):
        registry = process_registry()
        registry.register(IngestCollector(ing))
        port = s.metrics_port if metrics_port is None else metrics_port
        try:
            server = serve_metrics(port, registry, what="ingest", setting="FACTORYLOOP_TRAIN_METRICS_PORT")
        except ConfigError as exc:
            raise _fail(exc) from exc
        try:
            stats = ing.run(stop, idle_exit_s=idle_exit)
        except KeyboardInterrupt:
            stats = ing.stats
        finally:
            if server is not None:
                server.close()
    typer.echo(
        f"frames {stats.frames}, predictions {stats.predictions}, labels {stats.labels}, "
        f"parked {stats.parked}, duplicates {stats.duplicates}"
    )


app.command()(retrain)
app.command()(cli_rollout.deploy)
app.command()(cli_rollout.rollback)
app.command("validate-policy")(cli_rollout.validate_policy)


@app.command("gate")
def gate_cmd(product: Product, store: Store = None) -> None:
    """Gate the current challenger against the champion on the product's golden set."""
    from training.datasets import DatasetStore
    from training.pipeline import gate_policy, product_record
    from training.registry import ensure_golden, export_golden, run_gate
    from training.settings import get_settings

    s = get_settings()
    try:
        with DatasetStore(store) as ds, tempfile.TemporaryDirectory(prefix="fl-golden-") as tmp:
            classes = product_record(ds, product)
            golden = ensure_golden(ds, classes, s.golden_fraction)
            data = export_golden(ds, golden, Path(tmp), class_names=classes.class_names)
            decision = run_gate(_registry(), product, data, gate_policy(s))
    except TrainingError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{'PROMOTED' if decision.promote else 'REFUSED'}: {decision.reason}")


@app.command()
def status(product: Product) -> None:
    """Registered versions of the product with their aliases and gate/rollout decisions."""
    from training.registry import CHALLENGER, CHAMPION
    from training.registry.models import CANARY
    from training.settings import get_settings
    from training.triggers import lock_path

    reg = _registry()
    try:
        versions = reg.versions(product)
        aliases = {a: reg.alias(product, a) for a in (CHAMPION, CHALLENGER, CANARY)}
    except TrainingError as exc:
        raise _fail(exc) from exc
    lock = lock_path(get_settings().state_dir, product)
    busy = lock.is_file() and lock.read_text().strip()
    typer.echo(f"{reg.name(product)}: {len(versions)} version(s); retrain running: {'yes' if busy else 'no'}")
    for v in versions:
        marks = [a for a, mv in aliases.items() if mv is not None and mv.version == v.version]
        typer.echo(
            f"  v{v.version} {','.join(marks):<18} gate={v.tags.get('gate.decision', '-'):<8} "
            f"rollout={v.tags.get('rollout.decision') or v.tags.get('rollout.state', '-'):<12} "
            f"{v.tags.get('rollout.reason') or v.tags.get('gate.reason', '')}"
        )


@app.command()
def watch(
    store: Store = None,
    triggers: Annotated[
        Path | None,
        typer.Option(help="Triggers YAML (default: FACTORYLOOP_TRAIN_TRIGGERS_FILE, else new_labels)."),
    ] = None,
    rollout_policy: Annotated[
        Path | None,
        typer.Option(help="Rollout policy YAML (default: FACTORYLOOP_TRAIN_ROLLOUT_POLICY_FILE)."),
    ] = None,
    metrics_port: MetricsPort = None,
) -> None:
    """The trainer: ingest from Kafka, evaluate the triggers, take API jobs, retrain one product at a time,
    and own every rollout (canary stages, widening, rollback)."""
    import signal
    import threading

    from factoryloop.errors import ConfigError
    from factoryloop.metrics_http import process_registry, serve_metrics
    from training.datasets import DatasetStore
    from training.rollout.policy import load_policies
    from training.service import TrainerService
    from training.settings import get_settings
    from training.triggers import NewLabelsTriggerConfig, TriggersConfig, load_triggers
    from training.triggers.api_jobs import ApiJobSource

    s = get_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        path = triggers or s.triggers_file
        config = (
            load_triggers(path)
            if path
            else TriggersConfig(triggers=(NewLabelsTriggerConfig(min_labels=s.retrain_after_new_labels),))
        )
        with DatasetStore(store) as ds:
            api = None
            if s.api_url:
                if s.api_token is None:
                    raise TrainingError(
                        "FACTORYLOOP_TRAIN_API_URL is set: set FACTORYLOOP_TRAIN_API_TOKEN too"
                    )
                api = ApiJobSource(s.api_url, s.api_token)
            policies = load_policies(rollout_policy) if rollout_policy else None
            service = TrainerService(ds, s, config, api=api, policies=policies, registry=process_registry())
            port = s.metrics_port if metrics_port is None else metrics_port
            server = serve_metrics(
                port, service.metrics.registry, what="trainer", setting="FACTORYLOOP_TRAIN_METRICS_PORT"
            )
            typer.echo(
                f"trainer watching ({', '.join(t.name for t in service.evaluator.triggers)}); Ctrl-C stops"
            )
            try:
                service.run(stop)
            finally:
                if server is not None:
                    server.close()
    except (TrainingError, ConfigError) as exc:
        raise _fail(exc) from exc
