"""``factoryloop model register``: weights trained elsewhere become a registered, gated version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from training.cli_retrain import parse_imgsz, print_outcome
from training.errors import TrainingError


def register(
    weights: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="YOLO detection .pt of the product's classes.")
    ],
    product: Annotated[str, typer.Option("--product", "-p", help="The product it detects the defects of.")],
    imgsz: Annotated[
        str | None, typer.Option(help="Input size to serve it at (default: the size it was trained at).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded in MLflow).")] = "registered",
    gate: Annotated[bool, typer.Option(help="Gate it against the champion.")] = True,
    store: Annotated[
        Path | None, typer.Option("--store", help="Dataset store root (default $FACTORYLOOP_HOME/datasets).")
    ] = None,
) -> None:
    """Register WEIGHTS trained elsewhere (a GPU box, your own pipeline) as a version of the product.

    Its classes must be the product's class map, in order. It is measured on the product's validation
    split, exported to ONNX (parity-checked, INT8 twin when on), logged to MLflow with the dataset version it
    is judged against, registered, and gated like a retrain: the gate decides whether it becomes champion.
    """
    from training.datasets import DatasetStore
    from training.pipeline import retrain
    from training.settings import get_settings

    try:
        size = parse_imgsz(imgsz)
        if size == "auto":
            raise ValueError("--imgsz auto chooses a size to train at: give the size WEIGHTS serves at")
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        with DatasetStore(store) as ds:
            out = retrain(product, ds, get_settings(), reason=reason, gate=gate, imgsz=size, weights=weights)
    except TrainingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    print_outcome(out)
