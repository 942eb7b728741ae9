"""The product catalog as the API reads it (``factoryloop.products``, never training code): a frame's class
map, and review class names resolved through it."""

from __future__ import annotations

import re

from api.errors import NotFoundError, ProductCatalogError, UnknownClassError
from factoryloop.products import ClassMapError, Product, ProductCatalog, ProductError, ProductNotFoundError
from factoryloop.schemas import Detection

# A name the catalog can hold (factoryloop.products.model.ProductName, no leading dot): anything else an
# outcome carries is simply not in the catalog.
_CATALOG_NAME = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,63}$")


def list_products(catalog: ProductCatalog) -> list[Product]:
    try:
        return catalog.products()
    except ProductError as exc:
        raise ProductCatalogError(str(exc)) from exc


def get_product(catalog: ProductCatalog, name: str) -> Product:
    """404 naming the known products when ``name`` is not one of them."""
    try:
        return catalog.get(name)
    except ProductNotFoundError as exc:
        raise NotFoundError(str(exc)) from exc
    except ProductError as exc:
        raise ProductCatalogError(str(exc)) from exc


def class_map(catalog: ProductCatalog, product: str | None) -> Product | None:
    """The catalog's record of a frame's ``product``; None without a product or when the catalog lacks it."""
    if not product or not _CATALOG_NAME.match(product):
        return None
    try:
        return catalog.find(product)
    except ProductError as exc:
        raise ProductCatalogError(str(exc)) from exc


def no_class_map_note(product: str | None) -> str:
    """Why a frame's class names are free (not checked), and what to do about it."""
    if not product:
        return "this frame has no product: class names are free (not checked against a class map)"
    return (
        f"product {product} has no class map: add it with "
        f"`factoryloop product create {product} --classes a,b`; until then class names are free"
    )


def current_name(cmap: Product, name: str) -> str:
    """The current name of the class ``name`` counts as (renames and merges followed); else ``name``."""
    cid = cmap.resolve(name)
    return name if cid is None else cmap.classes[cid].name


def resolve_detections(
    cmap: Product, detections: tuple[Detection, ...], *, hint: str = ""
) -> tuple[Detection, ...]:
    """Each box with the product's class id and current class name (a renamed or merged name maps to its
    class); :class:`UnknownClassError` (400) naming the class and the product's classes otherwise."""
    out = []
    for i, d in enumerate(detections):
        try:
            cid = cmap.class_id(d.class_name)
        except ClassMapError as exc:
            raise UnknownClassError(f"detections[{i}]: {exc}{hint}") from exc
        out.append(d.model_copy(update={"class_id": cid, "class_name": cmap.classes[cid].name}))
    return tuple(out)
