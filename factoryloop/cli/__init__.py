"""The ``factoryloop`` command. Sub-command groups live in their own modules and are registered here.

Each group is imported lazily so that ``factoryloop agent ...`` on an edge box never imports
training or API code.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

app = typer.Typer(
    name="factoryloop",
    help="Self-hosted closed loop for factory visual inspection.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# (name, module path, attribute, help). The module is imported only when its group is invoked.
_GROUPS: list[tuple[str, str, str, str]] = [
    (
        "stack",
        "factoryloop.cli.stack",
        "app",
        "Start, stop and inspect the local stack (Kafka, MLflow, API).",
    ),
    ("topics", "factoryloop.cli.topics", "app", "Create and describe the Kafka topics."),
    ("sim", "factoryloop.sim.cli", "app", "Simulated production line: frames, videos, datasets."),
    ("product", "factoryloop.cli.product", "app", "Create products and manage their class maps."),
    ("dataset", "factoryloop.cli.dataset", "app", "Import, version, export and inspect datasets."),
    ("agent", "edge_agent.cli", "app", "Run and validate the edge agent."),
    ("train", "training.cli", "app", "Ingest, retrain, gate and roll out models."),
    ("model", "training.model_cli", "app", "Evaluate a model on labelled data and look at its predictions."),
    ("api", "api.cli", "app", "Serve the defect API and manage tokens."),
    ("demo", "factoryloop.sim.demo.cli", "app", "Run the closed-loop demo on the local stack."),
    ("site", "factoryloop.site.security_cli", "app", "A site's security: keys, passwords, ACLs."),
    (
        "deploy",
        "factoryloop.cli.deploy",
        "app",
        "Install a site: Kafka node configs, offline wheelhouses, Kubernetes topics.",
    ),
    ("backup", "factoryloop.cli.backup", "app", "Back up and restore the API, MLflow and the dataset store."),
]

# Top-level shortcuts to one command of a group: (name, module path, function, help).
_COMMANDS: list[tuple[str, str, str, str]] = [
    ("retrain", "training.cli", "retrain", "Retrain a product now (same as `factoryloop train retrain`)."),
]


def _register_commands(wanted: str | None) -> None:
    for name, module, attr, help_text in _COMMANDS:
        if wanted == name:
            app.command(name, help=help_text)(getattr(importlib.import_module(module), attr))
        elif wanted in (None, "--help", "-h"):
            # Listed in --help without importing training code; invoking it imports the real command.
            app.command(name, help=help_text, add_help_option=False)(lambda: None)


def _register_groups() -> None:
    wanted = sys.argv[1] if len(sys.argv) > 1 else None
    for name, module, attr, help_text in _GROUPS:
        if wanted not in (None, name, "--help", "-h"):
            # Register a placeholder so that --help lists every group without importing it.
            app.add_typer(typer.Typer(help=help_text), name=name, help=help_text)
            continue
        try:
            sub = getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if wanted == name:
                raise
            logging.getLogger(__name__).debug("command group %s unavailable: %s", name, exc)
            continue
        app.add_typer(sub, name=name, help=help_text)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    _register_groups()
    _register_commands(sys.argv[1] if len(sys.argv) > 1 else None)
    app()
