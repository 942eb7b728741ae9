"""The painter registry: painter name (``DefectClassConfig.painter``) -> the function that draws it."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from factoryloop.sim import defects, tile_defects
from factoryloop.sim.config import PAINTER_NAMES
from factoryloop.sim.defects import Painter
from factoryloop.sim.errors import SimError

PAINTERS: Final = MappingProxyType(
    {
        "scratch": defects.scratch,
        "dent": defects.dent,
        "stain": defects.stain,
        "crack": defects.crack,
        "missing_hole": defects.paint_missing_hole,
        "chip": tile_defects.chip,
        "bubble": tile_defects.bubble,
        "pinhole": tile_defects.pinhole,
    }
)

#: Painters that need the product's drilled holes (skipped on a product without holes).
NEEDS_HOLES: Final = frozenset({"missing_hole"})

if tuple(PAINTERS) != PAINTER_NAMES:  # pragma: no cover - a developer error, caught at import
    raise SimError(f"painter registry {tuple(PAINTERS)} differs from config.PainterName {PAINTER_NAMES}")


def painter(name: str) -> Painter:
    """The painter called ``name``; :class:`SimError` naming it and the known ones otherwise."""
    try:
        return PAINTERS[name]
    except KeyError:
        raise SimError(f"unknown painter {name!r}; known: {', '.join(PAINTERS)}") from None


__all__ = ["NEEDS_HOLES", "PAINTERS", "painter"]
