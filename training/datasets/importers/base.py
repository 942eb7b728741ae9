"""Importer protocol and registry. An importer validates a whole folder and returns an :class:`ImportPlan`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from training.datasets.types import ImportPlan

Progress = Callable[[int], None]


class Importer(Protocol):
    def __call__(self, root: Path, *, progress: Progress | None = None) -> ImportPlan: ...


def ordered_classes(found: set[str], given: tuple[str, ...] | None) -> tuple[str, ...]:
    """The class map: ``given``, else the fixed simulator order when it fits, else sorted names."""
    if given:
        return given
    from factoryloop.sim.classes import DEFECT_CLASSES

    if found and found <= set(DEFECT_CLASSES):
        return DEFECT_CLASSES
    return tuple(sorted(found))


def tick(progress: Progress | None) -> None:
    if progress is not None:
        progress(1)
