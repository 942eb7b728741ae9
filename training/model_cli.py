"""``factoryloop model``: evaluate a model on labelled data, look at its predictions on a folder of images.

The model: a registered version of the product's model (``--version N``, ``--alias A``, default the champion;
its edge file, the one the agent serves, or ``--fp32``), or a local ``--onnx`` file.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from edge_agent.errors import AgentError
from training.cli_register import register
from training.errors import TrainingError

if TYPE_CHECKING:
    from training.evaluation import EvalData, ModelFile

app = typer.Typer(no_args_is_help=True, help="Evaluate a model on labelled data and look at its predictions.")
err = Console(stderr=True)

ProductOpt = Annotated[
    str | None, typer.Option("--product", "-p", help="Product (one registered model per product).")
]
VersionOpt = Annotated[str | None, typer.Option("--version", help="Registered version number.")]
AliasOpt = Annotated[
    str | None, typer.Option("--alias", help="Registered alias (default: champion, unless --version/--onnx).")
]
OnnxOpt = Annotated[
    Path | None, typer.Option("--onnx", help="A local ONNX file instead of a registered one.")
]
Fp32Opt = Annotated[
    bool, typer.Option("--fp32", help="The version's fp32 model.onnx, even when the edge gets its INT8 twin.")
]
StoreOpt = Annotated[
    Path | None, typer.Option("--store", help="Dataset store root (default $FACTORYLOOP_HOME/datasets).")
]


def _fail(exc: Exception | str) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)  # not rich: it would eat [bracketed] text
    return typer.Exit(2)


@contextmanager
def _progress() -> Iterator[Callable[[str, int | None], Callable[[int], None]]]:
    """A factory of progress bars (description, total) -> advance(n), on stderr with ETA."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    ) as bar:

        def task(description: str, total: int | None) -> Callable[[int], None]:
            tid = bar.add_task(description, total=total)
            return lambda n: bar.advance(tid, n)

        yield task


def _model(
    product: str | None, version: str | None, alias: str | None, onnx: Path | None, fp32: bool, dest: Path
) -> ModelFile:
    from training.evaluation import local_model, registered_model
    from training.registry import ModelRegistry
    from training.settings import get_settings

    if onnx is not None:
        if version or alias or fp32:
            raise _fail("--onnx is a local file: do not combine it with --version, --alias or --fp32")
        return local_model(onnx)
    if version and alias:
        raise _fail("pass --version or --alias, not both")
    if not product:
        raise _fail("pass --product P (its registered model) or a local file with --onnx FILE")
    s = get_settings()
    registry = ModelRegistry(s.mlflow_tracking_uri, s.registered_model_prefix)
    return registered_model(registry, product, dest, version=version, alias=alias, fp32=fp32)


def _data(
    model: ModelFile,
    product: str | None,
    ref: str | None,
    path: Path | None,
    fmt: str | None,
    store: Path | None,
    out: Path,
    ignore_unknown: bool,
    progress: Callable[[str, int | None], Callable[[int], None]],
) -> EvalData:
    from training.datasets import DatasetStore
    from training.evaluation import dataset_data, folder_data, golden_data

    names = model.info.class_names
    who = f"{model.info.name} v{model.info.version}" if model.info.version else model.info.name
    if path is not None:
        if ref or not fmt:
            raise _fail("--path DIR needs --format F (yolo, voc, coco, mask, ...) and no --data")
        reading = progress(f"reading {path}", None)
        return folder_data(path, fmt, out, names, ignore_unknown=ignore_unknown, model=who, progress=reading)
    if fmt:
        raise _fail("--format goes with --path DIR")
    with DatasetStore(store) as ds:
        if ref:
            return dataset_data(ds, ref, out, names, ignore_unknown=ignore_unknown, model=who)
        if not product:
            raise _fail("pass --product P (its golden set), --data VERSION or --path DIR --format F")
        return golden_data(ds, product, out, names, ignore_unknown=ignore_unknown, model=who)


@app.command()
def evaluate(
    product: ProductOpt = None,
    version: VersionOpt = None,
    alias: AliasOpt = None,
    onnx: OnnxOpt = None,
    fp32: Fp32Opt = False,
    data: Annotated[
        str | None, typer.Option("--data", help="A dataset version (name or sha256 prefix): its val split.")
    ] = None,
    path: Annotated[
        Path | None, typer.Option("--path", help="A labelled folder (with --format): all its images.")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="Format of --path: yolo, voc, coco, ...")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")
    ] = False,
    conf: Annotated[float, typer.Option(min=0.0, max=1.0, help="Validator confidence threshold.")] = 0.001,
    iou: Annotated[float, typer.Option(min=0.0, max=1.0, help="Validator NMS IoU.")] = 0.7,
    ignore_unknown: Annotated[
        bool, typer.Option("--ignore-unknown-classes", help="Drop boxes of classes the model lacks.")
    ] = False,
    log: Annotated[bool, typer.Option(help="Log a registered version's evaluation to MLflow.")] = True,
    store: StoreOpt = None,
) -> None:
    """P, R, mAP50, mAP50-95 overall and per class, and the confusion matrix, of a model on labelled images.

    Data: the product's golden set (default), --data VERSION, or --path DIR --format F.
    """
    from training.evaluation import evaluate_model, render, to_json
    from training.evaluation.mlflow_log import log_evaluation
    from training.settings import get_settings

    # Until the result is printed, whatever prints to stdout (Ultralytics, MLflow's run URL) goes to stderr.
    with redirect_stdout(sys.stderr):
        try:
            with tempfile.TemporaryDirectory(prefix="fl-eval-") as tmp, _progress() as progress:
                model = _model(product, version, alias, onnx, fp32, Path(tmp) / "model")
                prepared = _data(
                    model, product, data, path, fmt, store, Path(tmp) / "data", ignore_unknown, progress
                )
                result = evaluate_model(model, prepared, conf=conf, iou=iou, progress=progress)
        except (TrainingError, AgentError) as exc:  # AgentError: the detector on a broken model
            raise _fail(exc) from exc
        if model.registered is not None and log and product:
            s = get_settings()
            try:
                run_id = log_evaluation(s.mlflow_tracking_uri, s.experiment, result, product)
                result = replace(result, mlflow_run_id=run_id)
            except TrainingError as exc:
                typer.echo(f"warning: the evaluation was not logged: {exc}", err=True)
    if json_out:
        typer.echo(json.dumps(to_json(result), indent=1))
    else:
        render(result, Console())


@app.command()
def predict(
    folder: Annotated[Path, typer.Argument(help="Folder of images (searched recursively).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder: an annotated .jpg and a .json per image.")
    ],
    product: ProductOpt = None,
    version: VersionOpt = None,
    alias: AliasOpt = None,
    onnx: OnnxOpt = None,
    fp32: Fp32Opt = False,
    conf: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Confidence threshold (the agent's default).")
    ] = 0.25,
) -> None:
    """Run the edge agent's detector (the line PC's code) on every image of FOLDER; write what it sees to
    OUT: an annotated .jpg and a .json per image."""
    from training.evaluation.predict import find_images, predict_folder

    if not folder.is_dir():
        raise _fail(f"{folder} is not a folder of images")
    try:
        with tempfile.TemporaryDirectory(prefix="fl-predict-") as tmp:
            model = _model(product, version, alias, onnx, fp32, Path(tmp) / "model")
            images = find_images(folder, exclude=out)
            with _progress() as progress:
                summary = predict_folder(
                    model.detector(conf=conf),
                    model.info,
                    folder,
                    out,
                    images=images,
                    progress=progress("predicting", len(images)),
                )
    except (TrainingError, AgentError) as exc:  # AgentError: the detector on a broken model
        raise _fail(exc) from exc
    for _, why in summary.skipped:
        typer.echo(f"skipped unreadable image {why}", err=True)
    who = f"{model.info.name} v{model.info.version}" if model.info.version else model.info.name
    typer.echo(f"{who} on {folder} -> {out}: {summary.line()}")


app.command()(register)
