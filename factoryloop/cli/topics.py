"""``factoryloop topics``: create and list factoryloop's Kafka topics, and apply their retention."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from factoryloop.errors import KafkaUnavailableError
from factoryloop.kafka.admin import admin_client, ensure_topics
from factoryloop.kafka.retention import (
    TopicRetentionError,
    TopicRetentionSettings,
    apply_retention,
    days_of,
    plan_retention,
    retention_specs,
)
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TOPIC_SPECS

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.command("init")
def init(
    bootstrap: str | None = typer.Option(
        None, help="host:port list; default FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS."
    ),
    replication_factor: int = typer.Option(1, min=1, help="3 on a production cluster."),
) -> None:
    """Create every factoryloop topic that does not exist yet (existing topics are left as they are)."""
    settings = KafkaSettings(bootstrap_servers=bootstrap) if bootstrap else KafkaSettings()
    try:
        specs = retention_specs(TopicRetentionSettings())  # FACTORYLOOP_TOPIC_RETENTION_* if set
        created = ensure_topics(settings, specs, replication_factor=replication_factor)
    except KafkaUnavailableError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"created: {', '.join(created) if created else 'nothing (all topics exist)'}")


@app.command("list")
def list_topics(bootstrap: str | None = typer.Option(None)) -> None:
    """Show factoryloop's topics, their specs, and whether they exist on the cluster."""
    settings = KafkaSettings(bootstrap_servers=bootstrap) if bootstrap else KafkaSettings()
    try:
        client = admin_client(settings)
    except KafkaUnavailableError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        existing = set(client.list_topics())
    finally:
        client.close()
    table = Table("topic", "partitions", "configs", "exists")
    for spec in TOPIC_SPECS.values():
        name = spec.name(settings.topic_prefix)
        configs = ", ".join(f"{k}={v}" for k, v in spec.configs.items())
        table.add_row(name, str(spec.partitions), configs, "yes" if name in existing else "[red]no[/red]")
    console.print(table)


@app.command("retention")
def retention(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show current and wanted; change nothing."),
    bootstrap: str | None = typer.Option(
        None, help="host:port list; default FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS."
    ),
) -> None:
    """Set each topic's retention.ms to its spec's, or FACTORYLOOP_TOPIC_RETENTION_<ROLE>_DAYS (0: forever);
    prints current and wanted per topic (docs/operations.md "Retention")."""
    settings = KafkaSettings(bootstrap_servers=bootstrap) if bootstrap else KafkaSettings()
    try:
        client = admin_client(settings)
    except KafkaUnavailableError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        plan = plan_retention(client, settings.topics, TopicRetentionSettings())
        changed = {p.topic for p in ([] if dry_run else apply_retention(client, plan))}
    except TopicRetentionError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    table = Table(
        "topic", "current", "wanted", "action", title="topic retention" + (" (dry run)" if dry_run else "")
    )
    for p in plan:
        if p.current is None:
            action = "[red]missing[/red]: factoryloop topics init"
        elif p.topic in changed:
            action = "changed"
        else:
            action = "would change" if p.differs else "ok"
        table.add_row(p.topic, days_of(p.current), days_of(p.wanted), action)
    console.print(table)
