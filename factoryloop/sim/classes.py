"""The fixed defect class map shared by the simulator, the edge agent, training and the API.

Class ids never change: models trained on one version of the line stay comparable with the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

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
