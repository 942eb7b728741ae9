"""YOLO folders for evaluation: write an import plan as one (every image in ``val``), and match a folder's
classes to a model's by name (label ids rewritten to the model's ids).

Ultralytics' validator compares class *ids*; a dataset that lists its classes in another order than the model
(or has classes the model lacks) would be scored wrong. :func:`match_classes` makes the ids agree.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from training.datasets import ImportPlan
from training.datasets.imaging import list_images
from training.evaluation.errors import EmptyDataError, EvaluationError, UnknownClassError

logger = logging.getLogger(__name__)

VAL = "val"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

#: One ground-truth box of a YOLO label file: (class id, cx, cy, w, h), coordinates normalised to 0-1.
Label = tuple[int, float, float, float, float]


@dataclass(frozen=True)
class ClassMatch:
    """A YOLO folder whose val labels now use the model's class ids (``data_yaml`` names = the model's)."""

    data_yaml: Path
    labels: Mapping[Path, tuple[Label, ...]]  # every val image -> its boxes (model ids); [] = background
    dropped: Mapping[str, int]  # boxes of classes the model lacks, dropped (ignore_unknown)

    @property
    def images(self) -> int:
        return len(self.labels)


def _yolo_line(class_id: int, x1: float, y1: float, x2: float, y2: float, width: int, height: int) -> str:
    cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
    return f"{class_id} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}\n"


def write_plan(plan: ImportPlan, out_dir: Path) -> Path:
    """Write ``plan`` as a YOLO folder with every image in ``val`` (the dataset's own splits are ignored);
    returns its data.yaml. Class ids follow ``plan.class_names``; boxes are clipped to their image."""
    out = Path(out_dir).resolve()
    images, labels = out / "images" / VAL, out / "labels" / VAL
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    found = {b.class_name for img in plan.images for b in img.boxes}
    names = tuple(plan.class_names) + tuple(sorted(found - set(plan.class_names)))
    ids = {name: i for i, name in enumerate(names)}
    for i, img in enumerate(plan.images):
        stem = f"{i:06d}_{_UNSAFE.sub('_', img.path.stem)[:80]}"
        (images / f"{stem}.jpg").write_bytes(img.data)
        lines = [
            _yolo_line(ids[c.class_name], c.x1, c.y1, c.x2, c.y2, img.width, img.height)
            for c in (b.clipped(img.width, img.height) for b in img.boxes)
            if c is not None
        ]
        (labels / f"{stem}.txt").write_text("".join(lines), encoding="utf-8")
    data = {"path": str(out), "train": f"images/{VAL}", VAL: f"images/{VAL}", "names": dict(enumerate(names))}
    data_yaml = out / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return data_yaml


def names_of(value: Any) -> tuple[str, ...]:
    """A data.yaml ``names`` entry (a list, or a dict id -> name) as a tuple in id order."""
    if isinstance(value, Mapping):
        return tuple(str(value[k]) for k in sorted(value, key=int))
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(str(v) for v in value)
    raise EvaluationError(f"data.yaml names must be a list or a mapping, got {value!r}")


def read_labels(path: Path, n_names: int) -> list[Label]:
    """The boxes of one YOLO label file (a missing file: no box)."""
    if not path.is_file():
        return []
    out: list[Label] = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            cid, (cx, cy, w, h) = int(parts[0]), (float(p) for p in parts[1:5])
        except ValueError:
            cid = -1
        if len(parts) < 5 or not 0 <= cid < n_names:
            raise EvaluationError(f"{path}:{no}: expected 'class cx cy w h' with class < {n_names}: {line!r}")
        out.append((cid, cx, cy, w, h))
    return out


def _label_path(image: Path, images_dir: Path, labels_dir: Path) -> Path:
    return (labels_dir / image.relative_to(images_dir)).with_suffix(".txt")


def match_classes(
    data_yaml: Path, model_names: Sequence[str], *, ignore_unknown: bool = False, model: str = "the model"
) -> ClassMatch:
    """Rewrite the val labels of the YOLO folder of ``data_yaml`` to the model's class ids, by class name.

    Boxes of a class the model lacks raise :class:`UnknownClassError` naming it, or with ``ignore_unknown``
    are dropped (counted in ``dropped``). data.yaml then names the model's classes, with ``train`` = ``val``
    (Ultralytics wants a train entry even to validate).
    """
    data_yaml = Path(data_yaml)
    cfg = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    root = Path(cfg.get("path") or data_yaml.parent)
    images_dir = root / str(cfg[VAL])
    labels_dir = root / "labels" / images_dir.relative_to(root / "images")
    data_names = names_of(cfg["names"])
    images = list_images(images_dir) if images_dir.is_dir() else []
    if not images:
        raise EmptyDataError(f"no images to evaluate in {images_dir}: the data has an empty val split")
    raw = {img: read_labels(_label_path(img, images_dir, labels_dir), len(data_names)) for img in images}
    model_ids = {name: i for i, name in enumerate(model_names)}
    unknown = Counter(
        data_names[b[0]] for boxes in raw.values() for b in boxes if data_names[b[0]] not in model_ids
    )
    if unknown and not ignore_unknown:
        lacking = ", ".join(f"{name!r} ({n} boxes)" for name, n in sorted(unknown.items()))
        raise UnknownClassError(
            f"the data has classes {model} does not know: {lacking}; its classes are "
            f"{', '.join(model_names)}. Evaluate a model trained on them, or pass --ignore-unknown-classes "
            "to drop those boxes"
        )
    if unknown:
        logger.warning(
            "dropped %d boxes of classes the model lacks: %s", sum(unknown.values()), dict(unknown)
        )
    labels: dict[Path, tuple[Label, ...]] = {}
    for img, boxes in raw.items():
        kept = tuple((model_ids[data_names[b[0]]], *b[1:]) for b in boxes if data_names[b[0]] in model_ids)
        labels[img] = kept
        target = _label_path(img, images_dir, labels_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in kept))
    for cache in labels_dir.parent.glob("*.cache"):
        cache.unlink()
    cfg.update({"path": str(root), "train": cfg[VAL], "names": dict(enumerate(model_names))})
    data_yaml.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return ClassMatch(data_yaml, labels, dict(sorted(unknown.items())))
