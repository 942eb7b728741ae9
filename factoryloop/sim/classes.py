"""The simulator's defect classes: the class map of a simulated product (see ensure_simulated_product).

Nothing outside the simulator and the tests imports this module: a plant's classes come from its products
(factoryloop.products).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

from factoryloop.products import Product, ProductCatalog

ClassName = Literal["scratch", "dent", "stain", "crack", "missing_hole"]

#: Class names in id order: ``DEFECT_CLASSES[class_id] == name``.
DEFECT_CLASSES: Final[tuple[ClassName, ...]] = ("scratch", "dent", "stain", "crack", "missing_hole")

#: Name -> class id (0 scratch, 1 dent, 2 stain, 3 crack, 4 missing_hole). Read-only.
CLASS_MAP: Final[Mapping[str, int]] = MappingProxyType({name: idx for idx, name in enumerate(DEFECT_CLASSES)})


def class_id(name: str) -> int:
    """Return the fixed id of a defect class; ``KeyError`` naming the class when unknown."""
    try:
        return CLASS_MAP[name]
    except KeyError:
        raise KeyError(f"unknown defect class {name!r}; known: {', '.join(DEFECT_CLASSES)}") from None


def ensure_simulated_product(catalog: ProductCatalog, name: str) -> Product:
    """The product ``name`` of the simulated line, created with the simulator's class map if new.

    The simulator's classes are one product's class map and nothing more: the simulated line is the test
    bench, and everything downstream reads the class map from the product catalog like a plant's own.
    """
    existing = catalog.find(name)
    if existing is not None:
        return existing
    return catalog.create(name, DEFECT_CLASSES, description="simulated line", by="simulator")
