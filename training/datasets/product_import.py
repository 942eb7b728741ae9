"""An import into a product: fit the dataset's classes to the product's class map, then store the images.

All or nothing: the class fit is computed before anything is written (a conflict changes nothing); the
product record is written, then the images in one transaction; if that fails the record is put back.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from factoryloop.products import ClassFit, ProductError, fit_classes
from training.datasets.errors import DatasetError
from training.datasets.importers.base import Progress
from training.datasets.store import DatasetStore
from training.datasets.types import ImportPlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProductImport:
    hashes: list[str]
    fit: ClassFit
    held_out: int  # images the dataset itself put in its val/test split


def renamed(plan: ImportPlan, names: Mapping[str, str]) -> ImportPlan:
    """``plan`` with every box's class renamed to the product's name for it."""
    if all(k == v for k, v in names.items()):
        return plan
    images = tuple(
        dataclasses.replace(
            item, boxes=tuple(dataclasses.replace(b, class_name=names[b.class_name]) for b in item.boxes)
        )
        for item in plan.images
    )
    return dataclasses.replace(plan, images=images, class_names=tuple(dict.fromkeys(names.values())))


def import_for_product(
    store: DatasetStore,
    plan: ImportPlan,
    product: str,
    *,
    mapping: Mapping[str, str] | None = None,
    add_classes: bool = False,
    description: str = "",
    source: str | None = None,
    progress: Progress | None = None,
) -> ProductImport:
    """Store ``plan`` as images of ``product``; creates the product from the dataset's classes if new."""
    catalog = store.products
    try:
        before = catalog.find(product)
        fit = fit_classes(
            product,
            before,
            plan.class_names,
            mapping=mapping,
            add_classes=add_classes,
            description=description,
        )
    except ProductError as exc:
        raise DatasetError(str(exc)) from exc
    plan = renamed(plan, fit.names)
    if fit.created or fit.added:
        catalog.save(fit.product)
    try:
        hashes = store.import_plan(plan, source=source, product=product, progress=progress)
    except BaseException:
        if fit.created:
            catalog.delete(product)
        elif before is not None and fit.added:
            catalog.save(before)
        raise
    held_out = sum(1 for item in plan.images if item.split in ("val", "test"))
    log.info(
        "imported %d images into product %s (%d held out by the dataset)", len(hashes), product, held_out
    )
    return ProductImport(hashes, fit, held_out)
