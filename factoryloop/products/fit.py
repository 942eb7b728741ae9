"""Fitting a dataset's classes to a product's class map (an import): pure, so nothing changes on an error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from factoryloop.products.errors import ClassMapConflictError, ClassMapError
from factoryloop.products.model import Product, new_product


@dataclass(frozen=True)
class ClassFit:
    product: Product  # the product after the import (created, or with classes added)
    created: bool
    added: tuple[str, ...]  # classes the import adds to the map
    names: Mapping[str, str]  # dataset class name -> the product's current class name


def parse_class_map(items: Sequence[str]) -> dict[str, str]:
    """``["old=new", ...]`` (the CLI's repeatable ``--map``) -> ``{old: new}``."""
    out: dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not old or not new:
            raise ClassMapError(f"--map {item!r}: expected DATASET_CLASS=PRODUCT_CLASS")
        if old in out and out[old] != new:
            raise ClassMapError(f"--map gives {old!r} twice ({out[old]!r} and {new!r})")
        out[old] = new
    return out


def fit_classes(
    product_name: str,
    existing: Product | None,
    dataset_classes: Sequence[str],
    *,
    mapping: Mapping[str, str] | None = None,
    add_classes: bool = False,
    description: str = "",
) -> ClassFit:
    """How an import's classes land in ``product_name``'s class map.

    No product yet: it is created with the dataset's classes (after ``mapping``) in the dataset's order.
    Otherwise every (mapped) dataset class must be a class of the product (current or former name), or
    ``add_classes`` appends the missing ones; if not, :class:`ClassMapConflictError` says which and how.
    """
    mapping = dict(mapping or {})
    stray = sorted(set(mapping) - set(dataset_classes))
    if stray:
        raise ClassMapError(
            f"--map names {', '.join(stray)}, not classes of the dataset "
            f"(its classes: {', '.join(dataset_classes)})"
        )
    mapped = [mapping.get(n, n) for n in dataset_classes]
    ordered = list(dict.fromkeys(mapped))
    if existing is None:
        product = new_product(product_name, ordered, description=description, by="import")
        return ClassFit(product, True, tuple(ordered), {n: mapping.get(n, n) for n in dataset_classes})
    missing = [n for n in ordered if existing.resolve(n) is None]
    if missing and not add_classes:
        sources = [d for d in dataset_classes if mapping.get(d, d) in missing]
        example = f"{sources[0]}={existing.active_class_names[0]}"
        raise ClassMapConflictError(
            f"dataset classes {', '.join(sources)} are not classes of product {existing.name} "
            f"(its classes: {', '.join(existing.active_class_names)}); map them to the product's classes "
            f"with --map DATASET_CLASS=PRODUCT_CLASS (e.g. --map {example}, repeatable) or add them to the "
            "product with --add-classes"
        )
    product = existing.with_classes_added(missing, by="import") if missing else existing
    names = {d: product.canonical(mapping.get(d, d)) for d in dataset_classes}
    return ClassFit(product, False, tuple(missing), names)
