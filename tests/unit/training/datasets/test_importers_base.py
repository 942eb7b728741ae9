"""Shared importer rules: class order without the simulator, split words, the registry."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import training.datasets
from training.datasets import IMPORTERS, UnknownFormatError, get_importer
from training.datasets.importers.base import ordered_classes, split_word


@pytest.mark.parametrize(
    ("found", "given", "want"),
    [
        ({"scratch", "crack", "dent"}, None, ("crack", "dent", "scratch")),
        ({"scratch", "crack"}, ("scratch", "crack", "rust"), ("scratch", "crack", "rust")),
        (set(), None, ()),
    ],
)
def test_ordered_classes(found, given, want) -> None:
    assert ordered_classes(found, given) == want


@pytest.mark.parametrize(
    ("word", "want"),
    [
        ("train", "train"),
        ("Validation", "val"),
        ("valid", "val"),
        ("VAL", "val"),
        (" test ", "test"),
        ("all", None),
        ("Validation_Images", "val"),  # NEU-DET's held-out folder
        ("Validation_Annotations", "val"),
        ("train-labels", "train"),
        ("images_val", "val"),
        ("IMAGES", None),
        ("train_val", None),  # two splits: says nothing
        ("test_run_photos", None),  # not only generic words
    ],
)
def test_split_words(word, want) -> None:
    assert split_word(word) == want


def test_registry_knows_every_format() -> None:
    assert set(IMPORTERS) == {"yolo", "voc", "coco", "cvat", "labelme", "mask"}
    with pytest.raises(UnknownFormatError, match="known: yolo, voc, coco, cvat, labelme, mask"):
        get_importer("kitti")


def test_dataset_tooling_does_not_import_the_simulator() -> None:
    package = Path(training.datasets.__file__).parent
    offenders = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("factoryloop.sim")]
    assert offenders == []
