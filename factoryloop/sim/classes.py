"""The default simulated product's class map, and :func:`ensure_simulated_product`.

A simulated line's class map is its config's (``SimConfig.classes``); ``DEFECT_CLASSES`` is only the
default one (the metal plate line: ``SimConfig()``, the ``default`` and ``demo`` presets), kept for the tests
and benches of that product. Nothing outside the simulator and the tests imports this module: a plant's
classes come from its products (factoryloop.products).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal

from factoryloop.products import Product, ProductCatalog
from factoryloop.sim.errors import SimError

if TYPE_CHECKING:
    from factoryloop.sim.config import SimConfig

#: The default product's class names (a line with another class map uses plain ``str``).
ClassName = Literal["scratch", "dent", "stain", "crack", "missing_hole"]

#: The default product's class names in id order: ``DEFECT_CLASSES[class_id] == name``.
DEFECT_CLASSES: Final[tuple[ClassName, ...]] = ("scratch", "dent", "stain", "crack", "missing_hole")

#: Name -> class id (0 scratch, 1 dent, 2 stain, 3 crack, 4 missing_hole). Read-only.
CLASS_MAP: Final[Mapping[str, int]] = MappingProxyType({name: idx for idx, name in enumerate(DEFECT_CLASSES)})


def class_id(name: str) -> int:
    """The id of a class of the default product; ``KeyError`` naming the class when unknown."""
    try:
        return CLASS_MAP[name]
    except KeyError:
        raise KeyError(f"unknown defect class {name!r}; known: {', '.join(DEFECT_CLASSES)}") from None


def ensure_simulated_product(catalog: ProductCatalog, name: str, config: SimConfig | None = None) -> Product:
    """The product ``name`` of a simulated line, created with the line's class map if new.

    ``config`` is the line (default: the default product's classes, ``DEFECT_CLASSES``). An existing product
    must know every class of the line (current or former names): :class:`SimError` naming the missing ones
    otherwise. The simulator's classes are one product's class map and nothing more: the simulated line is
    the test bench, and everything downstream reads the class map from the product catalog like a plant's.
    """
    classes = DEFECT_CLASSES if config is None else config.class_names
    existing = catalog.find(name)
    if existing is None:
        return catalog.create(name, classes, description="simulated line", by="simulator")
    missing = [c for c in classes if existing.resolve(c) is None]
    if missing:
        raise SimError(
            f"product {name} has no class {', '.join(missing)} of the simulated line "
            f"(its classes: {', '.join(existing.active_class_names)}); add them with "
            f"`factoryloop product add-class {name} {' '.join(missing)}` or use another product name"
        )
    return existing
