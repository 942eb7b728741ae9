"""The images of one split of a YOLO ``data.yaml`` and their label files, as Ultralytics finds them.

A split is a folder (searched recursively), a ``.txt`` file listing image paths (relative ones to the
dataset's ``path``), or a list of either. An image's label is the path with its last ``images`` folder
replaced by ``labels`` and the suffix by ``.txt``; none (no ``images`` folder, no file) means no boxes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from training.errors import ModelBuildError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


def dataset_root(data_yaml: Path) -> tuple[dict[str, Any], Path]:
    """The parsed YAML and its ``path`` resolved (relative to the YAML's folder)."""
    try:
        spec = yaml.safe_load(Path(data_yaml).read_text())
        root = Path(spec.get("path") or Path(data_yaml).parent)
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise ModelBuildError(f"cannot read {data_yaml}: {exc}") from exc
    return spec, (root if root.is_absolute() else Path(data_yaml).parent / root)


def label_of(image: Path) -> Path | None:
    parts = list(image.parts)
    if "images" not in parts:
        return None
    parts[len(parts) - 1 - parts[::-1].index("images")] = "labels"
    label = Path(*parts).with_suffix(".txt")
    return label if label.is_file() else None


def split_images(data_yaml: Path, split: str = "train") -> list[tuple[Path, Path | None]]:
    """(image, label file or None) of every image of ``split``, in a stable order."""
    spec, root = dataset_root(data_yaml)
    try:
        entries = spec[split]
    except (KeyError, TypeError) as exc:
        raise ModelBuildError(f"cannot read the {split} split of {data_yaml}: {exc}") from exc
    images: list[Path] = []
    for entry in [entries] if isinstance(entries, str) else list(entries):
        where = Path(entry) if Path(entry).is_absolute() else root / entry
        if where.suffix == ".txt" and where.is_file():
            listed = (Path(line.strip()) for line in where.read_text().splitlines() if line.strip())
            images += [p if p.is_absolute() else root / p for p in listed]
        else:
            images += sorted(p for p in where.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return [(image, label_of(image)) for image in images]
