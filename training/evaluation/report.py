"""The result of an evaluation, as one JSON document or as rich tables (per-class numbers and the confusion
matrix)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from training.evaluation.confusion import ConfusionMatrix
from training.evaluation.yolo_folder import Label
from training.yolo.train import ClassMetrics

SCHEMA = "factoryloop.evaluation/1"
OVERALL_KEYS = ("precision", "recall", "mAP50", "mAP50-95")


@dataclass(frozen=True)
class ModelInfo:
    name: str  # the registered model, or the local file's name
    version: str | None  # None: a local file
    source: str  # the artifact URI or the local path
    sha256: str
    precision: str  # fp32 | int8
    imgsz: int
    class_names: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "sha256": self.sha256,
            "precision": self.precision,
            "imgsz": self.imgsz,
            "class_names": list(self.class_names),
        }


@dataclass(frozen=True)
class DataInfo:
    kind: str  # golden | dataset | path
    ref: str  # the dataset version's name, or the folder
    sha256: str | None  # the dataset version's manifest sha256 (None for a folder)
    format: str  # yolo for dataset versions; the importer's for a folder
    images: int
    dropped: Mapping[str, int] = field(default_factory=dict)  # boxes of classes the model lacks

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ref": self.ref,
            "sha256": self.sha256,
            "format": self.format,
            "images": self.images,
            "dropped_boxes": dict(self.dropped),
        }


@dataclass(frozen=True)
class ClassRow:
    name: str
    images: int  # images with at least one true box of the class
    instances: int  # true boxes of the class
    precision: float | None  # None: no instance, nothing to measure
    recall: float | None
    ap50: float | None
    ap50_95: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "images": self.images,
            "instances": self.instances,
            "precision": self.precision,
            "recall": self.recall,
            "ap50": self.ap50,
            "ap50_95": self.ap50_95,
        }


@dataclass(frozen=True)
class Evaluation:
    model: ModelInfo
    data: DataInfo
    overall: Mapping[str, float]  # OVERALL_KEYS
    classes: tuple[ClassRow, ...]
    confusion: ConfusionMatrix
    conf: float
    iou: float
    wall_s: float
    mlflow_run_id: str | None = None

    @property
    def instances(self) -> int:
        return sum(c.instances for c in self.classes)


def class_rows(
    names: Sequence[str], labels: Mapping[Path, Sequence[Label]], per_class: Mapping[str, ClassMetrics]
) -> tuple[ClassRow, ...]:
    """One row per model class: counts from the true labels, numbers from the validator (``per_class``)."""
    instances: Counter[int] = Counter(b[0] for boxes in labels.values() for b in boxes)
    images: Counter[int] = Counter(c for boxes in labels.values() for c in {b[0] for b in boxes})
    rows = []
    for cid, name in enumerate(names):
        m = per_class.get(name, ClassMetrics(0.0, 0.0, 0.0, 0.0)) if instances[cid] else None
        rows.append(
            ClassRow(
                name,
                images[cid],
                instances[cid],
                m.precision if m else None,
                m.recall if m else None,
                m.ap50 if m else None,
                m.ap50_95 if m else None,
            )
        )
    return tuple(rows)


def to_json(ev: Evaluation) -> dict[str, Any]:
    """The whole evaluation as one JSON-ready document (``--json``)."""
    return {
        "schema": SCHEMA,
        "model": ev.model.as_dict(),
        "data": ev.data.as_dict(),
        "settings": {"conf": ev.conf, "iou": ev.iou},
        "overall": {
            "images": ev.data.images,
            "instances": ev.instances,
            **{k: float(ev.overall[k]) for k in OVERALL_KEYS},
        },
        "classes": [c.as_dict() for c in ev.classes],
        "confusion_matrix": ev.confusion.as_dict(),
        "wall_s": round(ev.wall_s, 3),
        "mlflow_run_id": ev.mlflow_run_id,
    }


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def metrics_table(ev: Evaluation) -> Table:
    table = Table("class", "images", "instances", "P", "R", "AP50", "AP50-95", title="Detection metrics")
    for col in table.columns[1:]:
        col.justify = "right"
    o = ev.overall
    table.add_row(
        "all",
        str(ev.data.images),
        str(ev.instances),
        *(_num(o[k]) for k in OVERALL_KEYS),
        style="bold",
        end_section=True,
    )
    for c in ev.classes:
        table.add_row(
            escape(c.name),
            str(c.images),
            str(c.instances),
            *(_num(v) for v in (c.precision, c.recall, c.ap50, c.ap50_95)),
            style=None if c.instances else "dim",
        )
    return table


def confusion_table(cm: ConfusionMatrix) -> Table:
    title = f"Confusion matrix (rows: true, columns: predicted; conf {cm.conf}, IoU {cm.iou})"
    table = Table("true \\ predicted", *(escape(n) for n in cm.labels), title=title)
    for col in table.columns[1:]:
        col.justify = "right"
    for i, (label, row) in enumerate(zip(cm.labels, cm.counts, strict=True)):
        cells = [
            f"[green]{v}[/green]" if i == j and v else (str(v) if v else "[dim]0[/dim]")
            for j, v in enumerate(row)
        ]
        table.add_row(escape(label), *cells)
    return table


def render(ev: Evaluation, console: Console) -> None:
    """Print the evaluation for a person: what was evaluated on what, then both tables."""
    m, d = ev.model, ev.data
    who = f"{m.name} v{m.version}" if m.version else m.name
    console.print(
        f"[bold]{escape(who)}[/bold] ({m.precision}, {m.sha256[:12]}) on [bold]{escape(d.ref)}[/bold] "
        f"({d.kind}, {d.images} images, {ev.instances} boxes) in {ev.wall_s:.1f} s; "
        f"validator conf {ev.conf}, NMS IoU {ev.iou}"
    )
    if d.dropped:
        dropped = ", ".join(f"{escape(k)}: {v}" for k, v in d.dropped.items())
        console.print(f"[yellow]dropped boxes of classes the model lacks[/yellow]: {dropped}")
    console.print(metrics_table(ev))
    console.print(confusion_table(ev.confusion))
    if ev.mlflow_run_id:
        console.print(f"logged to MLflow run {ev.mlflow_run_id}")
