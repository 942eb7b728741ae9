"""The labelled images to evaluate on, as a YOLO folder in the model's class ids: the product's golden set, a
dataset version's val split, or a folder in any importer format (every image evaluated)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from training.datasets import DatasetStore, VersionNotFoundError, get_importer
from training.datasets.importers.base import Progress
from training.evaluation.errors import EmptyDataError, EvaluationError
from training.evaluation.report import DataInfo
from training.evaluation.yolo_folder import ClassMatch, match_classes, write_plan
from training.registry.golden import export_golden, golden_name

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalData:
    match: ClassMatch
    info: DataInfo


def _matched(
    data_yaml: Path,
    names: Sequence[str],
    info: DataInfo,
    *,
    ignore_unknown: bool,
    model: str,
    empty_hint: str,
) -> EvalData:
    try:
        match = match_classes(data_yaml, names, ignore_unknown=ignore_unknown, model=model)
    except EmptyDataError as exc:
        raise EmptyDataError(f"{info.ref}: no image to evaluate: {empty_hint}") from exc
    return EvalData(
        match, DataInfo(info.kind, info.ref, info.sha256, info.format, match.images, match.dropped)
    )


def golden_data(
    store: DatasetStore,
    product: str,
    out_dir: Path,
    names: Sequence[str],
    *,
    ignore_unknown: bool = False,
    model: str = "the model",
) -> EvalData:
    """The product's fixed evaluation set (the ``golden-<product>`` version's val split)."""
    try:
        version = store.get_version(golden_name(product))
    except VersionNotFoundError as exc:
        raise EmptyDataError(
            f"product {product} has no golden set ({golden_name(product)}) in {store.root}: it is frozen "
            f"by the first gate (`factoryloop train gate --product {product}`); or pass --data VERSION or "
            "--path DIR --format F"
        ) from exc
    data_yaml = export_golden(store, version, out_dir)
    info = DataInfo("golden", version.name, version.sha256, "yolo", 0)
    hint = "its golden set has no image; label more images and freeze a new one"
    return _matched(data_yaml, names, info, ignore_unknown=ignore_unknown, model=model, empty_hint=hint)


def dataset_data(
    store: DatasetStore,
    ref: str,
    out_dir: Path,
    names: Sequence[str],
    *,
    ignore_unknown: bool = False,
    model: str = "the model",
) -> EvalData:
    """A dataset version's val split (by name or sha256 prefix)."""
    try:
        version = store.get_version(ref)
    except VersionNotFoundError as exc:
        raise EvaluationError(f"{exc}; `factoryloop dataset list --root {store.root}` lists them") from exc
    data_yaml = store.export_yolo(version, out_dir)
    info = DataInfo("dataset", version.name, version.sha256, "yolo", 0)
    hint = (
        "the version has no val image; freeze one with a test fraction above 0, or use --path DIR --format F"
    )
    return _matched(data_yaml, names, info, ignore_unknown=ignore_unknown, model=model, empty_hint=hint)


def folder_data(
    path: Path,
    fmt: str,
    out_dir: Path,
    names: Sequence[str],
    *,
    ignore_unknown: bool = False,
    model: str = "the model",
    progress: Progress | None = None,
) -> EvalData:
    """A folder in any importer format, validated by the importer; every image is evaluated."""
    plan = get_importer(fmt)(Path(path), progress=progress)
    data_yaml = write_plan(plan, out_dir)
    info = DataInfo("path", str(Path(path).resolve()), None, fmt, 0)
    hint = f"put labelled images in {path} (format {fmt})"
    return _matched(data_yaml, names, info, ignore_unknown=ignore_unknown, model=model, empty_hint=hint)
