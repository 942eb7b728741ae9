"""The split a YOLO dataset gives its images, read as Ultralytics reads it.

1. data.yaml ``train:``/``val:``/``test:``: each a folder (all images below it), a ``.txt`` listing image
   paths, or a list of those; relative to data.yaml's ``path:`` (when that folder exists, else data.yaml's
   folder), with Ultralytics' ``../`` fallback for Roboflow exports (``train: ../train/images``).
2. Else the layout: ``images/train|val|test/...`` or ``train|valid|test/images/...`` (Roboflow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.datasets.errors import CorruptFileError
from training.datasets.imaging import IMAGE_SUFFIXES, list_images
from training.datasets.importers.base import split_word

_KEYS = ("train", "val", "test")


def _base(yaml_path: Path, doc: dict[str, Any]) -> Path:
    raw = doc.get("path")
    if isinstance(raw, str) and raw.strip():
        base = Path(raw).expanduser()
        base = base if base.is_absolute() else yaml_path.parent / base
        if base.is_dir():
            return base
    return yaml_path.parent


def _resolve(raw: str, bases: tuple[Path, ...]) -> Path | None:
    path = Path(raw).expanduser()
    if path.is_absolute():
        return path if path.exists() else None
    tries = [b / raw for b in bases]
    if raw.startswith("../"):
        tries += [b / raw[3:] for b in bases]
    return next((p for p in tries if p.exists()), None)


def _listed(txt: Path, bases: tuple[Path, ...]) -> list[Path]:
    """The images a split ``.txt`` lists (``./x`` is relative to the txt's folder, as in Ultralytics)."""
    try:
        lines = txt.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{txt}: cannot read image list: {exc}") from exc
    images = []
    for lineno, line in enumerate(lines, 1):
        entry = line.strip()
        if not entry:
            continue
        found = _resolve(entry[2:] if entry.startswith("./") else entry, (txt.parent, *bases))
        if found is None or not found.is_file():
            raise CorruptFileError(f"{txt}:{lineno}: image {entry!r} not found")
        images.append(found)
    return images


def _entry_images(yaml_path: Path, key: str, raw: object, bases: tuple[Path, ...]) -> list[Path]:
    entries = raw if isinstance(raw, list) else [raw]
    images: list[Path] = []
    for entry in entries:
        if not isinstance(entry, str) or not entry.strip():
            raise CorruptFileError(f"{yaml_path}: {key}: expected a folder, a .txt file or a list of those")
        found = _resolve(entry.strip(), bases)
        if found is None:
            raise CorruptFileError(f"{yaml_path}: {key}: {entry!r} not found (relative to {bases[0]})")
        if found.is_dir():
            images += list_images(found)
        elif found.suffix.lower() in IMAGE_SUFFIXES:
            images.append(found)
        else:
            images += _listed(found, bases)
    return images


def declared_splits(root: Path, data_yaml: tuple[Path, dict[str, Any]] | None) -> dict[Path, str] | None:
    """Resolved image path -> split from data.yaml; None when data.yaml declares no split."""
    if data_yaml is None:
        return None
    yaml_path, doc = data_yaml
    present = [k for k in _KEYS if doc.get(k)]
    if not present:
        return None
    bases = (_base(yaml_path, doc), root)
    splits: dict[Path, str] = {}
    for key in present:
        for image in _entry_images(yaml_path, key, doc[key], bases):
            image = image.resolve()
            other = splits.setdefault(image, key)
            if other != key:
                raise CorruptFileError(f"{yaml_path}: image {image} is listed under both {other} and {key}")
    return splits


def layout_split(image: Path, root: Path) -> str | None:
    """``images/<split>/...`` or ``<split>/images/...`` relative to the root, else None."""
    try:
        parts = image.relative_to(root).parts[:-1]
    except ValueError:
        return None
    if "images" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("images")
    after = split_word(parts[i + 1]) if i + 1 < len(parts) else None
    return after or (split_word(parts[i - 1]) if i > 0 else None)
