"""Immutable dataset versions: canonical manifests, hash-stable splits, YOLO export and statistics."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from factoryloop.products import Product
from training.datasets.errors import DatasetError, VersionNotFoundError
from training.datasets.types import (
    Box,
    DatasetStats,
    DatasetVersion,
    ImageRecord,
    LabelSet,
    Provenance,
    split_of,
)

if TYPE_CHECKING:
    from training.datasets.store import DatasetStore

MANIFEST_FORMAT = 1


def canonical(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def manifest_sha256(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(manifest).encode("ascii")).hexdigest()


def freeze(
    store: DatasetStore,
    name: str,
    *,
    sources: Sequence[str] | None,
    products: Sequence[str] | None,
    provenances: Sequence[Provenance | str] | None,
    class_names: Sequence[str] | None,
    test_fraction: float,
    max_train: int | None = None,
    class_map: Product | None = None,
) -> DatasetVersion:
    if not name or "/" in name:
        raise DatasetError(f"invalid version name {name!r}")
    if not 0.0 <= test_fraction < 1.0:
        raise DatasetError(f"test_fraction must be in [0, 1), got {test_fraction}")
    records = [
        r
        for r in store.images()
        if (not sources or r.source in sources) and (not products or r.product in products)
    ]
    labels = store.all_effective_labels(r.hash for r in records)
    wanted_prov = {Provenance(p) for p in provenances} if provenances else None
    chosen = [
        r
        for r in records
        if r.hash in labels and (wanted_prov is None or labels[r.hash].provenance in wanted_prov)
    ]
    if not chosen:
        raise DatasetError(f"version {name!r}: no labelled images match the selection")
    found = {b.class_name for r in chosen for b in labels[r.hash].boxes}
    if class_map is not None:
        names = class_map.class_names
        unknown = {n for n in found if class_map.resolve(n) is None}
        if unknown:
            raise DatasetError(
                f"version {name!r}: labels name classes {', '.join(sorted(unknown))} that product "
                f"{class_map.name} does not have (classes: {', '.join(class_map.active_class_names)}); add "
                f"them with `factoryloop product add-class {class_map.name} NAME` or rename them"
            )
        index = {n: cid for n in found if (cid := class_map.resolve(n)) is not None}
    else:
        if class_names:
            names = tuple(class_names)
        else:
            from training.datasets.importers.base import ordered_classes

            names = ordered_classes(found, None)
        unknown = found - set(names)
        if unknown:
            raise DatasetError(
                f"version {name!r}: classes {', '.join(sorted(unknown))} are not in the class names "
                f"given ({', '.join(names)})"
            )
        index = {n: i for i, n in enumerate(names)}
    if max_train is not None:
        chosen = cap_train_split(chosen, labels, test_fraction, max_train, seed=name)
    images = [
        {
            "hash": r.hash,
            "width": r.width,
            "height": r.height,
            "product": r.product,
            "split": r.split_for(test_fraction),
            "provenance": labels[r.hash].provenance.value,
            "boxes": [[index[b.class_name], *b.as_list()[1:]] for b in labels[r.hash].boxes],
        }
        for r in sorted(chosen, key=lambda r: r.hash)
    ]
    manifest = {
        "format": MANIFEST_FORMAT,
        "class_names": list(names),
        "test_fraction": test_fraction,
        "selection": {
            "sources": sorted(sources or []),
            "products": sorted(products or []),
            "provenances": sorted(p.value for p in wanted_prov or []),
            **({"max_train": max_train} if max_train is not None else {}),
        },
        "images": images,
    }
    version = DatasetVersion(name, manifest_sha256(manifest), time.time(), manifest)
    store._save_version(version)
    return version


def missing_images(db: sqlite3.Connection, version: DatasetVersion) -> list[str]:
    """The images ``version`` names that the store does not hold (pruned while it was being frozen)."""
    hashes = sorted({img["hash"] for img in version.manifest["images"]})
    have: set[str] = set()
    for i in range(0, len(hashes), 500):
        chunk = hashes[i : i + 500]
        marks = ",".join("?" for _ in chunk)
        have.update(r[0] for r in db.execute(f"SELECT hash FROM images WHERE hash IN ({marks})", chunk))
    return [h for h in hashes if h not in have]


def cap_train_split(
    records: Sequence[ImageRecord],
    labels: Mapping[str, LabelSet],
    test_fraction: float,
    max_train: int,
    *,
    seed: str,
) -> list[ImageRecord]:
    """At most ``max_train`` images of the train split; the val split is kept whole (it is what the gate
    judges on).

    A retrain's time grows with its images, and a line sends frames all day: without a bound, a second retrain
    an hour after the first trains on 5x the frames. Kept first: every image showing a class that fewer than
    ``max_train // (2 * classes)`` train images show (a new or rare defect is never sampled away); the rest
    is a draw seeded by ``seed`` (the version name), so a version is reproducible from the store.
    """
    if max_train < 1:
        raise DatasetError(f"max_train must be at least 1, got {max_train}")
    in_train = {r.hash: r.split_for(test_fraction) == "train" for r in records}
    train = [r for r in records if in_train[r.hash]]
    if len(train) <= max_train:
        return list(records)
    classes = {r.hash: {b.class_name for b in labels[r.hash].boxes} for r in train}
    per_class = Counter(c for names in classes.values() for c in names)
    floor = max(1, max_train // (2 * max(1, len(per_class))))
    rare = {c for c, n in per_class.items() if n < floor}
    keep = [r for r in train if rare & classes[r.hash]]

    def draw_order(r: ImageRecord) -> str:
        return hashlib.sha256(f"{seed}:{r.hash}".encode()).hexdigest()

    kept = {r.hash for r in keep}
    rest = sorted((r for r in train if r.hash not in kept), key=draw_order)
    kept.update(r.hash for r in rest[: max(0, max_train - len(keep))])
    return [r for r in records if not in_train[r.hash] or r.hash in kept]


def get(store: DatasetStore, ref: str) -> DatasetVersion:
    versions = store.list_versions()
    for v in versions:
        if v.name == ref:
            return v
    hits = [v for v in versions if len(ref) >= 8 and v.sha256.startswith(ref.lower())]
    if len(hits) == 1:
        return hits[0]
    known = ", ".join(v.name for v in versions) or "none"
    raise VersionNotFoundError(f"no single dataset version matches {ref!r} (known: {known})")


def _resolve(store: DatasetStore, version: DatasetVersion | str) -> DatasetVersion:
    return version if isinstance(version, DatasetVersion) else get(store, version)


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def export_yolo(
    store: DatasetStore,
    version: DatasetVersion | str,
    out_dir: Path,
    *,
    class_names: Sequence[str] | None = None,
) -> Path:
    """``class_names``: the names to write (a product's class map grown since the version was frozen: ids
    are append-only, so the version's names must be its first entries); default the version's."""
    v = _resolve(store, version)
    names = tuple(class_names) if class_names else v.class_names
    if len(names) < len(v.class_names):
        raise DatasetError(
            f"{v.name}: {len(names)} class names given for a version with {len(v.class_names)} classes"
        )
    out = out_dir.resolve()
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for img in v.manifest["images"]:
        h, w, ht, split = img["hash"], img["width"], img["height"], img["split"]
        _link_or_copy(store.image_path(h), out / "images" / split / f"{h}.jpg")
        lines = []
        for cid, x1, y1, x2, y2 in img["boxes"]:
            cx, cy, bw, bh = (x1 + x2) / 2 / w, (y1 + y2) / 2 / ht, (x2 - x1) / w, (y2 - y1) / ht
            lines.append(f"{cid} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}\n")
        (out / "labels" / split / f"{h}.txt").write_text("".join(lines), encoding="utf-8")
    data = {
        "path": str(out),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(names)),
        "factoryloop": {"version": v.name, "manifest_sha256": v.sha256},
    }
    data_yaml = out / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return data_yaml


def stats(store: DatasetStore, version: DatasetVersion | str | None) -> DatasetStats:
    boxes: Counter[str] = Counter()
    per_image: Counter[str] = Counter()
    prov: Counter[str] = Counter()
    splits: Counter[str] = Counter()
    if version is not None:
        v = _resolve(store, version)
        names = v.class_names
        items = [
            ([names[b[0]] for b in i["boxes"]], i["provenance"], i["split"]) for i in v.manifest["images"]
        ]
        total = len(items)
    else:
        labels = store.all_effective_labels()
        items = [([b.class_name for b in ls.boxes], ls.provenance.value, "") for ls in labels.values()]
        total = len(store.images())
    for classes, p, split in items:
        boxes.update(classes)
        per_image.update(set(classes))
        prov[p] += 1
        if split:
            splits[split] += 1
    return DatasetStats(
        images=total,
        labelled=len(items),
        defect_free=sum(1 for c, _, _ in items if not c),
        boxes_per_class=dict(sorted(boxes.items())),
        images_per_class=dict(sorted(per_image.items())),
        per_provenance=dict(sorted(prov.items())),
        per_split=dict(sorted(splits.items())),
    )


__all__ = ["Box", "canonical", "export_yolo", "freeze", "get", "manifest_sha256", "split_of", "stats"]
