"""The frame-source plug-in interface: open, read frames until ``None`` (end), close."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class RawFrame:
    """What a source read. ``image`` is BGR uint8 (h, w, 3); ``None`` or an empty array means corrupt."""

    image: np.ndarray | None
    index: int | None = None
    item_id: str | None = None


class FrameSource(ABC):
    """A camera, stream, folder or simulator. ``read`` raises :class:`SourceError` when the device fails."""

    name: str = "source"

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self) -> RawFrame | None:
        """The next frame, or ``None`` at the end of a finite source."""

    @abstractmethod
    def close(self) -> None: ...


class Pacer:
    """Sleeps so that successive ticks happen at ``fps`` (0 or None: no pacing). Does not accumulate drift."""

    def __init__(self, fps: float | None) -> None:
        self.period = 1.0 / fps if fps else 0.0
        self._next: float | None = None

    def wait(self) -> None:
        if not self.period:
            return
        now = time.monotonic()
        if self._next is None or now - self._next > 1.0:  # first tick, or we fell far behind: resync
            self._next = now
        delay = self._next - now
        if delay > 0:
            time.sleep(delay)
        self._next += self.period


def is_valid_image(image: np.ndarray | None) -> bool:
    return (
        image is not None
        and isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.size > 0
    )
