"""The product catalog: one JSON file per product in a folder beside the dataset store.

This folder is the single source of truth for products and their class maps. It is read and written
through this module only, which lives in the shared package: the trainer, the dataset CLI and the API read it
without importing training code. Edge agents never read it: a deployment carries its product and class
names, and the ONNX file carries the same in its metadata. Writes take an exclusive lock on ``.lock`` in the
folder and replace the file atomically (write, fsync, rename), so a reader sees the old or the new record.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from factoryloop.products.errors import ProductError, ProductNotFoundError
from factoryloop.products.model import Product, new_product
from factoryloop.settings import datasets_root

log = logging.getLogger(__name__)


def default_catalog_root() -> Path:
    """``<dataset store>/products``; the store: ``$FACTORYLOOP_DATASETS``, else ``<home>/datasets``."""
    return datasets_root() / "products"


class ProductCatalog:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_catalog_root()

    def _path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise ProductError(f"invalid product name {name!r}")
        return self.root / f"{name}.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _read(self, path: Path) -> Product:
        try:
            return Product.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise ProductError(
                f"{path}: not a valid product record ({exc.__class__.__name__}: {str(exc)[:300]}); "
                "restore it from a backup"
            ) from exc

    def find(self, name: str) -> Product | None:
        path = self._path(name)
        return self._read(path) if path.is_file() else None

    def get(self, name: str) -> Product:
        product = self.find(name)
        if product is None:
            known = ", ".join(p.name for p in self.products()) or "none yet"
            raise ProductNotFoundError(
                f"no product {name!r} (known: {known}); create it with "
                f"`factoryloop product create {name} --classes a,b` or import a dataset with --product {name}"
            )
        return product

    def products(self) -> list[Product]:
        if not self.root.is_dir():
            return []
        return [self._read(p) for p in sorted(self.root.glob("*.json"))]

    def save(self, product: Product, *, expect_absent: bool = False) -> Product:
        """Write ``product`` (atomically); ``expect_absent``: refuse when it exists already."""
        with self._locked():
            path = self._path(product.name)
            if expect_absent and path.exists():
                raise ProductError(f"product {product.name!r} exists already; see `factoryloop product show`")
            self._write(path, product)
        return product

    def _write(self, path: Path, product: Product) -> None:
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        data = json.dumps(product.model_dump(mode="json"), indent=1, ensure_ascii=False).encode()
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        log.info(
            "product %s: %d classes (%s)", product.name, len(product.classes), product.history[-1].action
        )

    def create(
        self, name: str, class_names: list[str] | tuple[str, ...], *, description: str = "", by: str = "cli"
    ) -> Product:
        return self.save(new_product(name, class_names, description=description, by=by), expect_absent=True)

    def update(self, name: str, change: Callable[[Product], Product]) -> Product:
        """Read, change and write one product under the lock (no lost update between two writers)."""
        with self._locked():
            path = self._path(name)
            current = self.get(name)
            changed = change(current)
            if changed.name != current.name:
                raise ProductError("a product cannot be renamed")
            self._write(path, changed)
        return changed

    def delete(self, name: str) -> None:
        """Remove a record (used to undo a product created by an import that then failed)."""
        with self._locked():
            self._path(name).unlink(missing_ok=True)
