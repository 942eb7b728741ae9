"""``factoryloop retrain`` (and ``train retrain``): one retrain of a product now, with progress and an ETA."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from training.errors import TrainingError

if TYPE_CHECKING:
    from training.pipeline import RetrainOutcome
    from training.yolo.progress import TrainProgress

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """``30m``, ``1h30m``, ``90s``, ``1800`` -> seconds; ValueError saying the accepted forms otherwise."""
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 1h30m, 90s or 1800)")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"the duration must be positive, got {text!r}")
    return total


def parse_imgsz(text: str | None) -> int | str | None:
    if text is None or text == "auto":
        return text
    if not text.isdigit() or not 32 <= int(text) <= 4096:
        raise ValueError(f"--imgsz must be 'auto' or a size in pixels (32-4096), got {text!r}")
    return int(text)


def _fmt(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def progress_line(p: TrainProgress) -> str:
    """One line per epoch: epoch, elapsed, ETA, the losses and (validated epochs) mAP."""
    parts = [f"epoch {p.epoch}/{p.epochs}", f"elapsed {_fmt(p.elapsed_s)}", f"ETA {_fmt(p.eta_s)}"]
    if p.budget_s:
        parts.append(f"budget {_fmt(p.budget_s)}")
    parts += [f"{k} {v:.3f}" for k, v in sorted(p.losses.items())[:3]]
    parts += [f"{k} {v:.3f}" for k, v in p.metrics.items() if k.startswith("mAP")]
    return "  ".join(parts)


def retrain(
    product: Annotated[
        str, typer.Option("--product", "-p", help="Product (one registered model per product).")
    ],
    reason: Annotated[str, typer.Option(help="Why (recorded in MLflow).")] = "manual",
    epochs: Annotated[int | None, typer.Option(help="Override the recipe's epochs.")] = None,
    imgsz: Annotated[
        str | None, typer.Option(help="Input size, or 'auto' (from the data; default of --from-scratch).")
    ] = None,
    gate: Annotated[bool, typer.Option(help="Gate the challenger against the champion.")] = True,
    scratch: Annotated[
        bool,
        typer.Option(
            "--from-scratch", help="A first model (recipe cpu_first_model), not a fine-tune of the champion."
        ),
    ] = False,
    recipe: Annotated[str | None, typer.Option(help="Training recipe (training.yolo.recipes).")] = None,
    time_budget: Annotated[
        str | None, typer.Option("--time-budget", help="End on time with the best weights: 30m, 1h, 900s.")
    ] = None,
    base_model: Annotated[
        Path | None,
        typer.Option(
            "--base-model", exists=True, dir_okay=False, help="Your own YOLO .pt to start from (offline)."
        ),
    ] = None,
    store: Annotated[
        Path | None, typer.Option("--store", help="Dataset store root (default $FACTORYLOOP_HOME/datasets).")
    ] = None,
) -> None:
    """Train a challenger (a fine-tune of the champion, if any) from the labelled images; register, gate."""
    from training.datasets import DatasetStore
    from training.pipeline import retrain as run
    from training.service import retrain_product
    from training.settings import get_settings

    s = get_settings()
    try:
        budget = parse_duration(time_budget) if time_budget else None
        size = parse_imgsz(imgsz)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    first = scratch or base_model is not None
    overrides: dict[str, Any] = {"progress": lambda p: typer.echo(progress_line(p), err=True)}
    if budget is not None:
        overrides["time_budget_s"] = budget
    if base_model is not None:
        overrides["model"] = str(base_model)
    if first:
        recipe = recipe or "cpu_first_model"
        size = size or ("auto" if s.imgsz is None else None)
    try:
        # a first model trains the recipe's model; otherwise a fine-tune of the champion when there is one
        train: Callable[..., RetrainOutcome] = run if first else retrain_product
        with DatasetStore(store) as ds:
            out = train(
                product,
                ds,
                s,
                reason=reason,
                gate=gate,
                epochs=epochs,
                imgsz=size,
                recipe=recipe,
                **overrides,
            )
    except TrainingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    print_outcome(out)


def print_outcome(out: RetrainOutcome) -> None:
    """What a retrain (or a registered .pt) gave: its numbers, its edge file, the gate's decision."""
    trained = out.train.epochs
    how = f"{len(trained)} epochs in {_fmt(out.train.wall_s)}" if trained else "not trained here"
    typer.echo(
        f"{out.version.name} v{out.version.version}: mAP50 {out.train.metrics['mAP50']:.3f}, "
        f"mAP50-95 {out.train.metrics['mAP50-95']:.3f} (imgsz {out.version.imgsz}, {how}); measured on "
        f"{out.version.tags.get('validation', 'its val split')}"
    )
    why = out.version.tags.get("int8.reason", "INT8 export off")
    typer.echo(f"edge file: {out.version.edge_uri.rsplit('/', 1)[-1]} ({out.version.precision}; {why})")
    if out.decision is not None:
        typer.echo(f"gate: {'PROMOTED' if out.decision.promote else 'REFUSED'} - {out.decision.reason}")
