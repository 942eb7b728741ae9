"""USB camera (index), RTSP/HTTP stream or video file via ``cv2.VideoCapture``."""

from __future__ import annotations

from pathlib import Path

import cv2

from edge_agent.config import OpenCVSource
from edge_agent.errors import SourceError
from edge_agent.sources.base import FrameSource, Pacer, RawFrame


class OpenCVFrameSource(FrameSource):
    def __init__(self, config: OpenCVSource) -> None:
        self.config = config
        self.name = f"opencv:{config.uri}"
        self._uri: int | str = config.uri
        if isinstance(config.uri, str) and config.uri.isdigit():
            self._uri = int(config.uri)
        self._is_file = isinstance(self._uri, str) and Path(self._uri).is_file()
        self._cap: cv2.VideoCapture | None = None
        self._pacer = Pacer(config.fps)
        self._index = 0

    def open(self) -> None:
        cap = cv2.VideoCapture(self._uri)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open video source {self.config.uri!r}")
        if self.config.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
        if self.config.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
        self._cap = cap

    def read(self) -> RawFrame | None:
        if self._cap is None:
            raise SourceError(f"{self.name}: read before open")
        self._pacer.wait()
        ok, image = self._cap.read()
        if not ok:
            if self._is_file:
                return None  # end of the video file
            raise SourceError(f"{self.name}: read failed (stream lost?)")
        frame = RawFrame(image=image, index=self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
