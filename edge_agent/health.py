"""Camera health from the frames themselves: brightness, focus (variance of the Laplacian), frozen image."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from factoryloop.schemas import CameraHealth

ANALYSIS_WIDTH = 320


def grey_small(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    scale = ANALYSIS_WIDTH / w
    small = cv2.resize(image, (ANALYSIS_WIDTH, max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)


def brightness(grey: np.ndarray) -> float:
    return float(grey.mean())


def blur_score(grey: np.ndarray) -> float:
    """Variance of the Laplacian: low means out of focus (compare against the same camera's normal)."""
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


class CameraMonitor:
    """Fed every ``every``-th frame by the inference thread; ``frozen`` after ``frozen_after`` identical."""

    def __init__(self, every: int = 10, frozen_after: int = 3) -> None:
        self.every = every
        self.frozen_after = frozen_after
        self._lock = threading.Lock()
        self._n = 0
        self._last: np.ndarray | None = None
        self._same = 0
        self._brightness: float | None = None
        self._blur: float | None = None

    def observe(self, image: np.ndarray) -> None:
        self._n += 1
        if (self._n - 1) % self.every:
            return
        grey = grey_small(image)
        same = self._last is not None and self._last.shape == grey.shape and np.array_equal(self._last, grey)
        with self._lock:
            self._brightness, self._blur = brightness(grey), blur_score(grey)
            self._same = self._same + 1 if same else 0
            self._last = grey

    def snapshot(self, connected: bool, reconnects: int) -> CameraHealth:
        with self._lock:
            return CameraHealth(
                connected=connected,
                brightness=self._brightness,
                blur_score=self._blur,
                frozen=self._same >= self.frozen_after - 1 and self._last is not None and self._same > 0,
                reconnects=reconnects,
            )
