"""``factoryloop site init`` and ``factoryloop site acls``: a site's keys, passwords and ACLs.

``app`` is the ``site`` command group; other site commands can be added to it, or these two to another
group with :func:`add_commands`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from factoryloop.errors import FactoryloopError

logger = logging.getLogger(__name__)

app = typer.Typer(no_args_is_help=True, help="Install a site: keys, passwords and ACLs.")


def init(
    folder: Annotated[Path, typer.Argument(help="The site folder to create (must not exist or be empty).")],
    broker: Annotated[
        list[str] | None,
        typer.Option("--broker", "-b", help="HOST:PORT of a broker's client listener; repeat per broker."),
    ] = None,
    controller: Annotated[
        list[str] | None,
        typer.Option(
            "--controller", "-c", help="HOST of a separate KRaft controller; repeat per controller."
        ),
    ] = None,
    topic_prefix: Annotated[str, typer.Option(help="The installation's topic prefix.")] = "factoryloop.",
    install_dir: Annotated[
        Path | None,
        typer.Option(help="Where the folder will live on the site's machines (CA path in the env files)."),
    ] = None,
) -> None:
    """Write a site folder: CA and broker keystores, a SCRAM-SHA-512 principal per role (agent, api, sink,
    trainer, admin) with random passwords, the fleet signing key and one env file per role. Refuses to
    overwrite an existing folder."""
    from factoryloop.site.init import init_site
    from factoryloop.site.security import parse_broker

    try:
        brokers = [parse_broker(b) for b in (broker or ["127.0.0.1:9092"])]
        site = init_site(
            folder, brokers, topic_prefix=topic_prefix, install_dir=install_dir, controllers=controller
        )
    except FactoryloopError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"site folder {folder}: brokers {site.bootstrap}, topic prefix {site.topic_prefix!r}")
    typer.echo(f"next: start the brokers, then `factoryloop site acls {folder}` (see {folder}/README.md)")


def acls(
    folder: Annotated[Path, typer.Argument(help="The site folder (factoryloop site init).")],
    topics: Annotated[bool, typer.Option(help="Also create the topics (as the admin).")] = True,
    replication_factor: Annotated[int, typer.Option(min=1)] = 3,
    show: Annotated[bool, typer.Option(help="Print the cluster's ACLs afterwards.")] = False,
) -> None:
    """Create the topics and every role's ACLs on the site's brokers, as the site's admin (idempotent)."""
    from factoryloop.kafka import ensure_topics
    from factoryloop.site.acls import apply_acls, list_acls, site_acls
    from factoryloop.site.security import ROLES, Site

    try:
        site = Site.load(folder)
        admin = site.kafka_settings("admin")
        if topics:
            rf = min(replication_factor, len(site.brokers))
            created = ensure_topics(admin, replication_factor=rf)
            typer.echo(f"topics created: {', '.join(created) or 'none (all exist)'}")
        principals = {r: site.user(r).name for r in ROLES}
        count = apply_acls(admin, site_acls(site.topic_prefix, site.groups, principals))
        typer.echo(f"{count} ACLs in place")
        if show:
            for acl in list_acls(admin):
                pattern = acl.resource_pattern
                typer.echo(
                    f"{acl.principal} {acl.permission_type.name} {acl.operation.name} "
                    f"{pattern.resource_type.name} {pattern.pattern_type.name} {pattern.resource_name}"
                )
    except (FactoryloopError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def rotate(
    folder: Annotated[Path, typer.Argument(help="The site folder (factoryloop site init).")],
    role: Annotated[str, typer.Argument(help="agent, api, sink, trainer or admin.")],
) -> None:
    """Give a role a new random Kafka password, on the brokers and in its env file; then copy the file to
    the role's machines and restart its services."""
    from factoryloop.site.security import Site
    from factoryloop.site.security_rotate import rotate_password

    try:
        site = Site.load(folder)
        rotate_password(site, role)
    except FactoryloopError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{role}: new password in {site.env_file(role)}; copy it and restart the {role} services")


def add_commands(group: typer.Typer) -> None:
    """Register ``init``, ``acls`` and ``rotate`` on ``group``."""
    group.command("init")(init)
    group.command("acls")(acls)
    group.command("rotate")(rotate)


add_commands(app)
