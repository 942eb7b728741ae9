"""Replay the images of a folder at a set rate: ordered or shuffled, once or looping, from disk or memory."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np

from edge_agent.config import FolderSource
from edge_agent.errors import SourceError
from edge_agent.sources.base import FrameSource, Pacer, RawFrame

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


class FolderFrameSource(FrameSource):
    def __init__(self, config: FolderSource) -> None:
        self.config = config
        self.name = f"folder:{config.path}"
        self._files: list[Path] = []
        self._pos = 0
        self._pass = 0
        self._pacer = Pacer(config.fps)
        self._decoded: dict[Path, np.ndarray | None] = {}

    def open(self) -> None:
        if not self.config.path.is_dir():
            raise SourceError(f"{self.config.path}: not a directory")
        files = sorted(
            p for p in self.config.path.glob(self.config.pattern) if p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise SourceError(f"{self.config.path}: no images matching {self.config.pattern!r}")
        self._files = files
        if self.config.preload:
            self._decoded = {p: _decode(p) for p in files}
        self._order()

    def _order(self) -> None:
        if self.config.order == "shuffled":
            random.Random(self.config.seed + self._pass).shuffle(self._files)

    def read(self) -> RawFrame | None:
        if self._pos >= len(self._files):
            if not self.config.loop:
                return None
            self._pos, self._pass = 0, self._pass + 1
            self._order()
        path = self._files[self._pos]
        index = self._pass * len(self._files) + self._pos
        self._pos += 1
        self._pacer.wait()
        image = self._decoded[path] if self.config.preload else _decode(path)
        return RawFrame(image=image, index=index, item_id=path.stem)

    def close(self) -> None:
        self._files = []
        self._decoded = {}


def _decode(path: Path) -> np.ndarray | None:
    """The image as BGR, or ``None`` (corrupt or vanished): the watchdog counts and skips it."""
    data = np.fromfile(path, dtype=np.uint8) if path.exists() else np.empty(0, np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
