"""Content-addressed image store with an SQLite (WAL) index of images, labels, class maps and versions."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from factoryloop.durable import write_durably
from factoryloop.products import Product, ProductCatalog
from factoryloop.settings import datasets_root
from training.datasets import reviews as _reviews
from training.datasets import versions as _versions
from training.datasets.errors import DatasetError
from training.datasets.imaging import decode, is_jpeg
from training.datasets.importers.base import Progress
from training.datasets.schema import create_schema
from training.datasets.sqlite_tx import immediate_transaction
from training.datasets.types import (
    PRECEDENCE,
    Box,
    DatasetStats,
    DatasetVersion,
    ImageRecord,
    ImportPlan,
    LabelSet,
    Provenance,
)

log = logging.getLogger(__name__)


#: A dataset's own split -> the store's: its val and test images are held out (the fixed evaluation set).
_SPLITS = {"train": "train", "val": "val", "test": "val"}


def default_root() -> Path:
    """``$FACTORYLOOP_DATASETS``, else ``$FACTORYLOOP_HOME/datasets`` (home default ``~/.factoryloop``)."""
    return datasets_root()


class DatasetStore:
    """Images stored once by sha256 under ``root/images/ab/<hash>.jpg``; index in ``root/index.sqlite``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        (self.root / "images").mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.root / "index.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed row survives a power cut, not only a crash
        self._db.execute("PRAGMA foreign_keys=ON")
        create_schema(self._db)
        #: Products and their class maps, beside the images they describe (factoryloop.products).
        self.products = ProductCatalog(self.root / "products")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> DatasetStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self._lock)

    # images ----------------------------------------------------------------------------------------------
    def image_path(self, image_hash: str) -> Path:
        return self.root / "images" / image_hash[:2] / f"{image_hash}.jpg"

    def _write_file(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.image_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Durable before the index row that points at it commits (and before ingest commits offsets).
            write_durably(path, data, path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}"))
        return digest

    def add_image(self, jpeg_bytes: bytes, *, source: str, product: str | None = None) -> str:
        """Store a JPEG (validated; a duplicate is stored once) and return its sha256."""
        if not is_jpeg(jpeg_bytes):
            raise DatasetError(f"add_image from {source}: bytes are not a JPEG")
        img = decode(jpeg_bytes, f"image from {source}")
        with self._tx() as db:
            return self._insert_image(db, jpeg_bytes, img.shape[1], img.shape[0], source, product)

    def _insert_image(
        self,
        db: sqlite3.Connection,
        data: bytes,
        w: int,
        h: int,
        source: str,
        product: str | None,
        split: str | None = None,
    ) -> str:
        digest = self._write_file(data)
        db.execute(
            "INSERT OR IGNORE INTO images(hash, width, height, source, product, added_at, split)"
            " VALUES (?,?,?,?,?,?,?)",
            (digest, int(w), int(h), source, product, time.time(), split),
        )
        return digest

    def image(self, image_hash: str) -> ImageRecord:
        row = next(
            iter(
                self._query(
                    "SELECT hash, width, height, source, product, split FROM images WHERE hash = ?",
                    (image_hash,),
                )
            ),
            None,
        )
        if row is None:
            raise DatasetError(f"unknown image {image_hash}")
        return ImageRecord(*row)

    def images(self, *, source: str | None = None, product: str | None = None) -> list[ImageRecord]:
        sql = "SELECT hash, width, height, source, product, split FROM images WHERE 1=1"
        args: list[str] = []
        if source is not None:
            sql, args = sql + " AND source = ?", [*args, source]
        if product is not None:
            sql, args = sql + " AND product = ?", [*args, product]
        return [ImageRecord(*r) for r in self._query(sql + " ORDER BY hash", args)]

    # labels ----------------------------------------------------------------------------------------------
    def set_labels(
        self, image_hash: str, boxes: Sequence[Box], *, provenance: Provenance | str, source_ref: str
    ) -> None:
        """Record the boxes a source gave an image; ``[]`` means reviewed as defect-free."""
        with self._tx() as db:
            self._insert_labels(db, image_hash, boxes, Provenance(provenance), source_ref)

    def _insert_labels(
        self, db: sqlite3.Connection, image_hash: str, boxes: Sequence[Box], prov: Provenance, ref: str
    ) -> int:
        row = db.execute("SELECT width, height FROM images WHERE hash = ?", (image_hash,)).fetchone()
        if row is None:
            raise DatasetError(f"set_labels: unknown image {image_hash} (add it first)")
        kept = [c for c in (b.clipped(row[0], row[1]) for b in boxes) if c is not None]
        if len(kept) != len(boxes):
            raise DatasetError(
                f"set_labels {image_hash} ({ref}): a box lies outside the {row[0]}x{row[1]} image"
            )
        cursor = db.execute(
            "INSERT INTO labels(image_hash, provenance, source_ref, created_at, boxes) VALUES (?,?,?,?,?)",
            (image_hash, prov.value, ref, time.time(), json.dumps([b.as_list() for b in kept])),
        )
        return int(cursor.lastrowid or 0)

    def label_history(self, image_hash: str) -> list[LabelSet]:
        rows = self._query(
            "SELECT provenance, source_ref, created_at, boxes FROM labels WHERE image_hash = ? ORDER BY id",
            (image_hash,),
        )
        return [
            LabelSet(image_hash, tuple(Box.from_list(b) for b in json.loads(bx)), Provenance(p), ref, ts)
            for p, ref, ts, bx in rows
        ]

    def effective_labels(self, image_hash: str) -> LabelSet | None:
        """The label set that counts: highest provenance precedence (human first), then the newest."""
        history = self.label_history(image_hash)
        if not history:
            return None
        return max(enumerate(history), key=lambda t: (PRECEDENCE[t[1].provenance], t[0]))[1]

    def all_effective_labels(self, hashes: Iterable[str] | None = None) -> dict[str, LabelSet]:
        wanted = None if hashes is None else set(hashes)
        best: dict[str, tuple[tuple[int, int], LabelSet]] = {}
        rows = self._query("SELECT id, image_hash, provenance, source_ref, created_at, boxes FROM labels")
        for lid, h, p, ref, ts, bx in rows:
            if wanted is not None and h not in wanted:
                continue
            prov = Provenance(p)
            key = (PRECEDENCE[prov], lid)
            if h not in best or key > best[h][0]:
                best[h] = (key, LabelSet(h, tuple(Box.from_list(b) for b in json.loads(bx)), prov, ref, ts))
        return {h: v[1] for h, v in best.items()}

    # reviews: what the retrain triggers count (training.datasets.reviews) --------------------------------
    def add_review(
        self,
        image_hash: str,
        boxes: Sequence[Box],
        *,
        provenance: Provenance | str,
        source_ref: str,
        action: str,
        product: str | None,
    ) -> int:
        """``set_labels`` for a supervisor's review, plus its ``reviews`` row (product, action), in one
        transaction; returns the label id. Only labels stored this way count as reviews."""
        with self._tx() as db:
            label_id = self._insert_labels(db, image_hash, boxes, Provenance(provenance), source_ref)
            _reviews.record(db, label_id, product, action)
        return label_id

    def review_counts(self, *, classes: Sequence[str] = (), actions: Sequence[str] = ()) -> dict[str, int]:
        """Per product, the reviews stored after its mark (``training.datasets.reviews.counts_query``)."""
        sql, args = _reviews.counts_query(classes, actions)
        return {product: n for product, n in self._query(sql, args) if n}

    def review_mark(self, product: str) -> int:
        """The label id after which the product's reviews count (0: every review counts)."""
        row = self._query(_reviews.MARK_QUERY, (product,))
        return int(row[0][0]) if row else 0

    def mark_reviews(self, product: str) -> int:
        """Move the product's mark to the newest label stored (its reviews so far stop counting)."""
        with self._tx() as db:
            return _reviews.move_mark(db, product)

    # class maps and imports ------------------------------------------------------------------------------
    def set_class_map(self, name: str, class_names: Sequence[str]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO class_maps VALUES (?, ?)", (name, json.dumps(list(class_names)))
            )

    def class_map(self, name: str) -> tuple[str, ...]:
        row = next(iter(self._query("SELECT class_names FROM class_maps WHERE name = ?", (name,))), None)
        if row is None:
            raise DatasetError(f"no class map named {name!r}")
        return tuple(json.loads(row[0]))

    def import_plan(
        self,
        plan: ImportPlan,
        *,
        source: str | None = None,
        product: str | None = None,
        progress: Progress | None = None,
    ) -> list[str]:
        """Commit a validated import in one transaction; returns the image hashes (in plan order)."""
        source = source or f"import:{plan.format}:{plan.root.name}"
        hashes = []
        with self._tx() as db:
            for item in plan.images:
                split = _SPLITS.get(item.split or "")
                digest = self._insert_image(db, item.data, item.width, item.height, source, product, split)
                self._insert_labels(db, digest, item.boxes, Provenance.IMPORT, item.label_ref)
                hashes.append(digest)
                if progress is not None:
                    progress(1)
            db.execute(
                "INSERT OR REPLACE INTO class_maps VALUES (?, ?)", (source, json.dumps(plan.class_names))
            )
        log.info("imported %s images from %s as %s", len(hashes), plan.root, source)
        return hashes

    # versions --------------------------------------------------------------------------------------------
    def freeze_version(
        self,
        name: str,
        *,
        sources: Sequence[str] | None = None,
        products: Sequence[str] | None = None,
        provenances: Sequence[Provenance | str] | None = None,
        class_names: Sequence[str] | None = None,
        test_fraction: float = 0.2,
        max_train: int | None = None,
        class_map: Product | None = None,
    ) -> DatasetVersion:
        """Freeze the labelled images matching the selection into an immutable, named version.

        ``class_map``: a product whose class map names the classes (labels under former names count as
        the renamed class, merged ones as their target); else ``class_names``, else the classes found.
        ``max_train`` bounds the train split (see :func:`training.datasets.versions.cap_train_split`)."""
        return _versions.freeze(
            self,
            name,
            sources=sources,
            products=products,
            provenances=provenances,
            class_names=class_names,
            class_map=class_map,
            test_fraction=test_fraction,
            max_train=max_train,
        )

    def list_versions(self) -> list[DatasetVersion]:
        rows = self._query("SELECT name, sha256, created_at, manifest FROM versions ORDER BY created_at")
        return [DatasetVersion(n, s, t, json.loads(m)) for n, s, t, m in rows]

    def get_version(self, ref: str) -> DatasetVersion:
        """A version by name or by (a prefix of at least 8 characters of) its manifest sha256."""
        return _versions.get(self, ref)

    def _save_version(self, version: DatasetVersion) -> None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM versions WHERE name = ?", (version.name,)).fetchone():
                raise DatasetError(
                    f"dataset version {version.name!r} already exists (versions are immutable)"
                )
            missing = _versions.missing_images(db, version)  # checked where `dataset prune` deletes
            if missing:
                raise DatasetError(
                    f"dataset version {version.name!r}: {len(missing)} of its images were pruned while it "
                    f"was frozen (e.g. {missing[0]}); freeze it again"
                )
            db.execute(
                "INSERT INTO versions VALUES (?,?,?,?)",
                (version.name, version.sha256, version.created_at, _versions.canonical(version.manifest)),
            )

    def export_yolo(
        self, version: DatasetVersion | str, out_dir: str | Path, *, class_names: Sequence[str] | None = None
    ) -> Path:
        """Write an ultralytics YOLO folder for ``version``; returns the path of its data.yaml."""
        return _versions.export_yolo(self, version, Path(out_dir), class_names=class_names)

    def stats(self, version: DatasetVersion | str | None = None) -> DatasetStats:
        return _versions.stats(self, version)
