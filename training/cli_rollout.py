"""``factoryloop train deploy|rollback|validate-policy``: ask the rollout controller, check a policy file.

The trainer (``factoryloop train watch``) owns every rollout; these commands publish a request on the
rollouts topic, as the API does, and with ``--wait`` print the controller's steps until the rollout ends.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from factoryloop.schemas import FLEET_KEY, RolloutAction, RolloutEvent, RolloutState
from training.errors import TrainingError

Product = Annotated[str, typer.Option("--product", "-p", help="Product (one registered model per product).")]
Target = Annotated[str, typer.Option(help="A line id, or 'fleet' (every agent of the product).")]
Wait = Annotated[
    float,
    typer.Option(help="Seconds to follow the rollout until it ends (0: publish the request and return)."),
]


def _show(event: RolloutEvent) -> None:
    agents = ", ".join(event.agents) or "-"
    state = "  (now)" if event.progress else event.state.value  # figures so far, or what it waits for
    typer.echo(
        f"{event.ts:%H:%M:%S} v{event.model_version} {state:<11} stage {event.stage + 1}/"
        f"{max(event.stages, 1)} agents {agents}: {event.reason}"
    )


def _ask(
    product: str,
    action: RolloutAction,
    version: str | None,
    staged: bool,
    target: str,
    reason: str | None,
    wait: float,
) -> None:
    from training.rollout.requests import ask, make_request
    from training.settings import get_settings

    request = make_request(
        product,
        action,
        requested_by=f"cli:{getpass.getuser()}",
        version=version,
        staged=staged,
        target=target,
        reason=reason,
    )
    try:
        end = ask(get_settings().kafka, request, wait_s=wait, on_event=_show)
    except TrainingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if end is None:
        typer.echo(
            f"requested ({request.request_id}); the trainer carries it out (`train status -p {product}`)"
        )
    elif end.state in (RolloutState.REFUSED, RolloutState.HALTED):
        raise typer.Exit(1)


def deploy(
    product: Product,
    version: Annotated[str | None, typer.Option(help="Model version (default: the champion).")] = None,
    staged: Annotated[
        bool,
        typer.Option("--staged/--straight", help="Through the policy's canary stages, or to all at once."),
    ] = True,
    target: Target = FLEET_KEY,
    reason: Annotated[str | None, typer.Option(help="Why (kept with the rollout).")] = None,
    wait: Wait = 0.0,
) -> None:
    """Ask the trainer to roll a version out (canary stages judged and rolled back by themselves)."""
    _ask(product, RolloutAction.DEPLOY, version, staged, target, reason, wait)


def rollback(
    product: Product,
    to_version: Annotated[
        str | None, typer.Option("--to-version", help="Version to go back to (default: the previous one).")
    ] = None,
    target: Target = FLEET_KEY,
    reason: Annotated[
        str, typer.Option(help="Why (sent to the agents and the registry).")
    ] = "engineer decision",
    wait: Wait = 0.0,
) -> None:
    """Ask the trainer to stop any canary and put every agent back on the previous (or a named) version."""
    _ask(product, RolloutAction.ROLLBACK, to_version, True, target, reason, wait)


def validate_policy(path: Annotated[Path, typer.Argument(help="Rollout policy YAML.")]) -> None:
    """Check a rollout policy file; each error is named by its YAML path."""
    from training.rollout.policy import PolicyConfigError, load_policies

    try:
        policies = load_policies(path)
    except PolicyConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for name, policy in [("default", policies.default), *sorted(policies.products.items())]:
        stages = " -> ".join(s.type for s in policy.stages)
        typer.echo(f"{name}: {policy.mode}, window {policy.window_s:.0f} s, stages {stages}")
