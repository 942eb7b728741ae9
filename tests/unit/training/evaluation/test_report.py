"""Shaping an evaluation: per-class rows, the JSON document, the rich tables, the MLflow metric names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from training.evaluation import ClassRow, DataInfo, Evaluation, ModelInfo, confusion_matrix, render, to_json
from training.evaluation.mlflow_log import evaluation_metrics, evaluation_tags, metric_key
from training.evaluation.report import class_rows
from training.yolo.train import ClassMetrics

NAMES = ("scratch", "dent", "crack")
M = ClassMetrics(0.5, 0.25, 0.75, 0.4)


@pytest.mark.parametrize(
    ("labels", "per_class", "expected"),
    [
        (  # counts from the labels, numbers from the validator; a class without boxes has no numbers
            {
                Path("a"): [(0, 0.5, 0.5, 0.1, 0.1), (0, 0.2, 0.2, 0.1, 0.1)],
                Path("b"): [(0, 0.5, 0.5, 0.1, 0.1)],
            },
            {"scratch": M},
            [("scratch", 2, 3, 0.5), ("dent", 0, 0, None), ("crack", 0, 0, None)],
        ),
        (  # boxes the validator has no numbers for: zeros (never found)
            {Path("a"): [(2, 0.5, 0.5, 0.1, 0.1)], Path("b"): []},
            {},
            [("scratch", 0, 0, None), ("dent", 0, 0, None), ("crack", 1, 1, 0.0)],
        ),
        (
            {Path("a"): []},
            {"dent": M},
            [("scratch", 0, 0, None), ("dent", 0, 0, None), ("crack", 0, 0, None)],
        ),
    ],
)
def test_class_rows(
    labels: dict[Path, list[tuple[int, float, float, float, float]]],
    per_class: dict[str, ClassMetrics],
    expected: list[tuple[str, int, int, float | None]],
) -> None:
    rows = class_rows(NAMES, labels, per_class)
    assert [(r.name, r.images, r.instances, r.precision) for r in rows] == expected


def _evaluation(names: tuple[str, ...] = NAMES, version: str | None = "3") -> Evaluation:
    rows = tuple(
        ClassRow(n, 1, 2, 0.5, 0.25, 0.75, 0.4) if i == 0 else ClassRow(n, 0, 0, None, None, None, None)
        for i, n in enumerate(names)
    )
    return Evaluation(
        ModelInfo(
            "factoryloop-plate", version, "mlflow-artifacts:/x/model.onnx", "ab" * 32, "fp32", 224, names
        ),
        DataInfo("golden", "golden-plate", "cd" * 32, "yolo", 5, {"stain": 2}),
        {"precision": 0.5, "recall": 0.25, "mAP50": 0.75, "mAP50-95": 0.4},
        rows,
        confusion_matrix(names, []),
        0.001,
        0.7,
        1.5,
    )


def test_json_document() -> None:
    doc = json.loads(json.dumps(to_json(_evaluation())))
    assert set(doc) == {
        "schema",
        "model",
        "data",
        "settings",
        "overall",
        "classes",
        "confusion_matrix",
        "wall_s",
        "mlflow_run_id",
    }
    assert doc["overall"] == {
        "images": 5,
        "instances": 2,
        "precision": 0.5,
        "recall": 0.25,
        "mAP50": 0.75,
        "mAP50-95": 0.4,
    }
    assert doc["classes"][0] == {
        "name": "scratch",
        "images": 1,
        "instances": 2,
        "precision": 0.5,
        "recall": 0.25,
        "ap50": 0.75,
        "ap50_95": 0.4,
    }
    assert doc["classes"][1]["ap50"] is None and doc["data"]["dropped_boxes"] == {"stain": 2}
    assert doc["model"]["version"] == "3" and doc["model"]["class_names"] == list(NAMES)
    assert len(doc["confusion_matrix"]["matrix"]) == len(NAMES) + 1
    assert doc["settings"] == {"conf": 0.001, "iou": 0.7}


@pytest.mark.parametrize("names", [NAMES, ("[bold]odd[/bold]", "a b")])
def test_render_shows_every_class_and_the_matrix(names: tuple[str, ...]) -> None:
    console = Console(record=True, width=200)
    render(_evaluation(names), console)
    text = console.export_text()
    for name in names:
        assert name in text  # square brackets are escaped, not eaten as markup
    assert "Confusion matrix" in text and "background" in text and "0.750" in text
    assert "factoryloop-plate v3" in text and "golden-plate" in text and "stain: 2" in text


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("eval_mAP50-95",), "eval_mAP50_95"),
        (("eval_ap50", "scratch"), "eval_ap50.scratch"),
        (("x", "a+b"), "x.a_b"),
    ],
)
def test_metric_key(parts: tuple[str, ...], key: str) -> None:
    assert metric_key(*parts) == key


def test_mlflow_metrics_and_tags() -> None:
    ev = _evaluation()
    metrics = evaluation_metrics(ev)
    assert metrics["eval_mAP50_95"] == 0.4 and metrics["eval_ap50.scratch"] == 0.75
    assert metrics["eval_instances.dent"] == 0.0 and "eval_ap50.dent" not in metrics
    tags = evaluation_tags(ev, "plate")
    assert tags["factoryloop.kind"] == "evaluation" and tags["model_version"] == "3"
    assert tags["data_ref"] == "golden-plate" and tags["product"] == "plate"
