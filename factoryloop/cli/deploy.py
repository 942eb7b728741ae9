"""``factoryloop deploy``: what installing a site needs (Kafka node configs, offline wheelhouses, K8s topics
and users, an agent's env file for a K8s cluster).

The systemd units in ``deploy/systemd`` run ``kafka-run``; ``docs/operations.md`` walks through a site.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from factoryloop.stack.errors import StackError

logger = logging.getLogger(__name__)

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


@app.command("kafka-cluster-id")
def kafka_cluster_id() -> None:
    """Print a new Kafka cluster id (once per site; every node's kafka-config gets the same one)."""
    from factoryloop.stack.kafka_config import new_cluster_id

    typer.echo(new_cluster_id())


@app.command("kafka-config")
def kafka_config(
    role: Annotated[str, typer.Option(help="controller, broker, or combined (both in one JVM).")],
    node_id: Annotated[int, typer.Option(min=0, help="This node's id (unique in the cluster).")],
    quorum: Annotated[str, typer.Option(help="The controllers: 1@kafka-1:9093,2@kafka-2:9093,...")],
    host: Annotated[str, typer.Option(help="Name others reach this node by (advertised listener).")],
    out: Annotated[Path, typer.Option(help="server.properties to write (log4j2, cluster-id beside it).")],
    data_dir: Annotated[Path, typer.Option(help="Kafka's log.dirs (the unit's StateDirectory).")],
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Listener port (9092 broker, 9093 controller)."),
    ] = None,
    bind: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    replication_factor: Annotated[int, typer.Option(min=1, help="Topics' RF (min ISR 2 from 3 on).")] = 3,
    cluster_id: Annotated[
        str | None, typer.Option(help="From `kafka-cluster-id`; written to cluster-id beside --out.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
    controller_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="A combined node's controller port (9093).")
    ] = None,
    site: Annotated[
        Path | None,
        typer.Option(help="Site folder (site init): TLS + SASL_SSL/SCRAM, ACLs, SCRAM users at format."),
    ] = None,
) -> None:
    """Write one site node's server.properties (a KRaft controller, a broker, or both), unless it exists."""
    from factoryloop.errors import ConfigError
    from factoryloop.site.kafka_node import NodeRole, SiteNode, parse_quorum, render_node_config
    from factoryloop.site.kafka_run import write_node_files
    from factoryloop.site.kafka_secure import secure_node
    from factoryloop.site.security import Site

    try:
        node_role = NodeRole(role)
        node = SiteNode(
            node_role,
            node_id,
            host,
            port or (9093 if node_role is NodeRole.CONTROLLER else 9092),
            data_dir,
            bind_host=bind,
            controller_port=controller_port or (9093 if node_role is NodeRole.COMBINED else None),
        )
        config = render_node_config(node, parse_quorum(quorum), replication_factor)
        scram = None
        if site is not None:
            secured = secure_node(config, Site.load(site), node)
            config, scram = secured.config, secured.scram
        written = write_node_files(config, out, cluster_id, force=force, scram=scram)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except (StackError, ConfigError) as exc:
        raise _fail(exc) from exc
    for path in written:
        typer.echo(f"wrote {path}")


@app.command("kafka-run")
def kafka_run(
    config: Annotated[Path, typer.Option(help="The node's server.properties (from kafka-config).")],
    format_storage: Annotated[
        bool, typer.Option("--format/--no-format", help="Format the storage first when it is new.")
    ] = True,
) -> None:
    """Run one Kafka node in the foreground as the local stack does (java replaces this process).

    Jars: FACTORYLOOP_STACK_JARS (else FACTORYLOOP_HOME/jars/kafka-<v>); heap: FACTORYLOOP_STACK_KAFKA_HEAP.
    """
    from factoryloop.site.kafka_run import exec_node
    from factoryloop.site.kafka_run import format_storage as do_format
    from factoryloop.stack.settings import StackSettings

    settings = StackSettings()
    try:
        if format_storage:
            do_format(config, settings.jars_dir)
        exec_node(config, settings.jars_dir, settings.kafka_heap)
    except StackError as exc:
        raise _fail(exc) from exc


@app.command("kafka-health")
def kafka_health(
    bootstrap: Annotated[
        str | None, typer.Option(help="host:port list (default FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS).")
    ] = None,
    brokers: Annotated[int, typer.Option(min=1, help="Brokers the cluster should have.")] = 3,
) -> None:
    """Exit 0 when every broker is up and no factoryloop partition is under-replicated (rolling restarts)."""
    from factoryloop.errors import KafkaUnavailableError
    from factoryloop.settings import KafkaSettings
    from factoryloop.site.kafka_health import cluster_health

    logging.getLogger("kafka").setLevel(logging.WARNING)
    settings = KafkaSettings(bootstrap_servers=bootstrap) if bootstrap else KafkaSettings()
    try:
        live, partitions = cluster_health(settings)
    except KafkaUnavailableError as exc:
        raise _fail(exc) from exc
    under = [p for p in partitions if p.under_replicated]
    for p in under:
        typer.echo(f"under-replicated: {p.topic}-{p.partition} replicas {p.replicas} isr {p.isr}")
    typer.echo(f"brokers {live}/{brokers}, partitions {len(partitions)}, under-replicated {len(under)}")
    if live < brokers or under:
        raise typer.Exit(code=1)


@app.command("kafka-rewind")
def kafka_rewind(
    group: Annotated[str, typer.Option(help="Consumer group, e.g. factoryloop-api-sink.")],
    since: Annotated[str, typer.Option(help="ISO time with zone, e.g. 2026-11-30T06:00:00+00:00.")],
    bootstrap: Annotated[
        str | None, typer.Option(help="host:port list (default FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS).")
    ] = None,
) -> None:
    """Rewind a stopped consumer group to a time (replay into a store restored from a backup)."""
    from datetime import datetime

    from factoryloop.errors import KafkaUnavailableError
    from factoryloop.settings import KafkaSettings
    from factoryloop.site.kafka_replay import rewind_group

    logging.getLogger("kafka").setLevel(logging.WARNING)
    settings = KafkaSettings(bootstrap_servers=bootstrap) if bootstrap else KafkaSettings()
    try:
        offsets = rewind_group(settings, group, datetime.fromisoformat(since))
    except (ValueError, KafkaUnavailableError) as exc:
        raise _fail(exc) from exc
    for tp, offset in sorted(offsets.items()):
        typer.echo(f"{tp.topic}-{tp.partition}: {offset}")


@app.command("wheelhouse")
def wheelhouse(
    out: Annotated[Path, typer.Option(help="Folder to fill with wheels (created).")],
    extra: Annotated[
        list[str] | None, typer.Option(help="Extras to include (repeat); default edge (the line PC's).")
    ] = None,
    project: Annotated[Path | None, typer.Option(help="factoryloop source folder (default: found).")] = None,
    python_version: Annotated[
        str | None, typer.Option(help="Target Python, e.g. 3.11 (wheels only).")
    ] = None,
    platform: Annotated[
        str | None, typer.Option(help="Target platform tag, e.g. manylinux2014_x86_64 (wheels only).")
    ] = None,
    constraints: Annotated[
        bool, typer.Option("--constraints/--no-constraints", help="Pin versions to constraints.txt.")
    ] = True,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Dry-run the offline install here afterwards.")
    ] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the pip commands only.")] = False,
) -> None:
    """Build an offline wheelhouse for air-gapped machines (pip wheel / pip download, one folder)."""
    from factoryloop.site import wheelhouse as wh

    extras = tuple(extra) if extra else ("edge",)
    try:
        p = wh.plan(out, extras, project, python_version, platform, use_constraints=constraints)
        if dry_run:
            for cmd in p.commands:
                typer.echo(" ".join(cmd))
            return
        wheels = wh.build(p, verify=verify and not (python_version or platform))
    except wh.WheelhouseError as exc:
        raise _fail(exc) from exc
    size = sum(w.stat().st_size for w in wheels)
    typer.echo(f"{len(wheels)} wheels, {size / 2**20:.0f} MiB in {out}")
    typer.echo(f"on the target: {p.install_command(str(out))}")


@app.command("k8s-topics")
def k8s_topics(
    out: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")] = None,
    cluster: Annotated[str, typer.Option(help="Strimzi Kafka resource name.")] = "factoryloop",
    prefix: Annotated[str, typer.Option(help="Topic name prefix.")] = "factoryloop.",
    replicas: Annotated[int, typer.Option(min=1, help="Replication factor.")] = 3,
) -> None:
    """Strimzi KafkaTopic resources for factoryloop's topics (RF 3, min ISR 2)."""
    from factoryloop.site.k8s import kafka_topics, render

    text = render(kafka_topics(cluster, prefix, replicas))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@app.command("k8s-users")
def k8s_users(
    out: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")] = None,
    cluster: Annotated[str, typer.Option(help="Strimzi Kafka resource name.")] = "factoryloop",
    prefix: Annotated[str, typer.Option(help="Topic name prefix.")] = "factoryloop.",
) -> None:
    """Strimzi KafkaUser resources, one per role (SCRAM-SHA-512), with the ACLs of `factoryloop site acls`."""
    from factoryloop.site.k8s import USERS_HEADER, kafka_users, render

    text = render(kafka_users(cluster, prefix), USERS_HEADER)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@app.command("k8s-agent-env")
def k8s_agent_env(
    user_secret: Annotated[Path, typer.Option(help="kubectl get secret factoryloop-kafka-agent -o json")],
    ca_secret: Annotated[Path, typer.Option(help="kubectl get secret factoryloop-cluster-ca-cert -o json")],
    trainer_secret: Annotated[Path, typer.Option(help="kubectl get secret factoryloop-trainer -o json")],
    bootstrap: Annotated[str, typer.Option(help="host:port of the cluster's external listener (9094).")],
    out: Annotated[Path, typer.Option(help="Folder for agent.env and ca.pem (created; files 0600).")],
    prefix: Annotated[str, typer.Option(help="Topic name prefix.")] = "factoryloop.",
    install_dir: Annotated[
        Path, typer.Option(help="Where ca.pem will be on the line PC (the env file points there).")
    ] = Path("/etc/factoryloop"),
    username: Annotated[str, typer.Option(help="The agents' KafkaUser.")] = "factoryloop-kafka-agent",
) -> None:
    """An edge agent's env file for a Strimzi cluster, from its Secrets (docs/operations.md "Kubernetes")."""
    from factoryloop.errors import ConfigError
    from factoryloop.site.k8s_agent_env import agent_env
    from factoryloop.site.security import CA_CERT, write_secret

    try:
        made = agent_env(
            user_secret,
            ca_secret,
            trainer_secret,
            bootstrap=bootstrap,
            topic_prefix=prefix,
            install_dir=install_dir,
            username=username,
        )
        out.mkdir(parents=True, exist_ok=True)
        for name in ("agent.env", CA_CERT):
            if (out / name).exists():
                raise ConfigError(f"{out / name} exists: remove it or choose another --out")
        write_secret(out / "agent.env", made.env)
        write_secret(out / CA_CERT, made.ca_pem)
    except (ConfigError, OSError) as exc:
        raise _fail(exc) from exc
    typer.echo(f"wrote {out / 'agent.env'} and {out / CA_CERT} (0600)")
    typer.echo(f"on the line PC: {CA_CERT} to {install_dir}/, agent.env as the agent units' EnvironmentFile")


@app.command("check-env")
def check_env(
    files: Annotated[list[Path], typer.Argument(help="Env files, e.g. /etc/factoryloop/*.env.")],
) -> None:
    """Report names no factoryloop process reads (the settings ignore unknown variables: a typo is silent)."""
    from factoryloop.site.env_names import check_file

    bad = 0
    for path in files:
        unknown = check_file(path)
        bad += len(unknown)
        typer.echo(f"{path}: {'OK' if not unknown else 'unknown ' + ', '.join(unknown)}")
    if bad:
        raise typer.Exit(code=1)
