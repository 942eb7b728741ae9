"""USB camera (index), RTSP/HTTP stream or video file via ``cv2.VideoCapture``.

Streams and files open with OpenCV's FFmpeg backend, with an open and a read timeout (an unreachable camera
fails in seconds instead of OpenCV's 30 s) and, for RTSP, the transport (``rtsp_transport`` in
``OPENCV_FFMPEG_CAPTURE_OPTIONS``, set only while the capture opens). Live streams decode on one thread:
FFmpeg's frame threading delays each frame by threads - 1 frame periods. Live sources (streams, cameras) are
read by a grab thread that keeps the newest frame only, so capture latency does not grow when inference is
slower than the camera: older frames are dropped and counted (:attr:`OpenCVFrameSource.stale_dropped`).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from edge_agent.config import OpenCVSource
from edge_agent.errors import SourceError
from edge_agent.sources.base import FrameSource, Pacer, RawFrame

logger = logging.getLogger(__name__)

FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_ENV_LOCK = threading.Lock()  # the options variable is process-wide: one capture opens at a time


def redact(uri: str) -> str:
    """``uri`` without its password (``rtsp://user:***@host/...``), for names, logs and errors."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def ffmpeg_options(config: OpenCVSource) -> str:
    """The ``key;value|key;value`` string OpenCV's FFmpeg backend reads when a capture opens."""
    options = dict(config.ffmpeg_options)
    if isinstance(config.uri, str) and config.uri.lower().startswith(("rtsp://", "rtsps://")):
        options.setdefault("rtsp_transport", config.transport)
    return "|".join(f"{key};{value}" for key, value in options.items())


class _Grabber:
    """Reads ``cap`` continuously on its own thread and keeps only the newest frame; owns and releases
    ``cap`` when it ends (a read in progress may outlast :meth:`close`)."""

    def __init__(self, cap: cv2.VideoCapture, name: str) -> None:
        self._cap = cap
        self._name = name
        self._cond = threading.Condition()
        self._image: np.ndarray | None = None
        self._error: str | None = None
        self._stop = threading.Event()
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"grab-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                ok, image = self._cap.read()
                with self._cond:
                    if not ok:
                        self._error = f"{self._name}: read failed (stream lost or read timeout)"
                        self._cond.notify_all()
                        return
                    if self._image is not None:
                        self.dropped += 1
                    self._image = image
                    self._cond.notify_all()
        except Exception as exc:  # thread boundary: hand the failure to the reader
            with self._cond:
                self._error = f"{self._name}: capture thread failed: {exc}"
                self._cond.notify_all()
        finally:
            self._cap.release()

    def take(self, timeout_s: float) -> np.ndarray:
        """The newest frame not handed out yet; :class:`SourceError` when the capture failed or stalled."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._image is not None or self._error is not None, timeout_s):
                raise SourceError(f"{self._name}: no frame within {timeout_s:g} s (stream stalled?)")
            image = self._image
            if image is None:
                raise SourceError(self._error)
            self._image = None
            return image

    def close(self, timeout_s: float) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning(
                "%s: grab thread still in a read after %.1f s; it releases the capture", self._name, timeout_s
            )


class OpenCVFrameSource(FrameSource):
    def __init__(self, config: OpenCVSource) -> None:
        self.config = config
        self.name = f"opencv:{redact(str(config.uri))}"
        self._uri: int | str = config.uri
        if isinstance(config.uri, str) and config.uri.isdigit():
            self._uri = int(config.uri)
        self._is_file = isinstance(self._uri, str) and Path(self._uri).is_file()
        self._latest = config.latest if config.latest is not None else not self._is_file
        self._cap: cv2.VideoCapture | None = None
        self._grabber: _Grabber | None = None
        self._dropped_before = 0
        self._pacer = Pacer(config.fps)
        self._index = 0

    @property
    def stale_dropped(self) -> int:
        """Frames the grab thread replaced before they were read (the consumer was slower than the camera)."""
        return self._dropped_before + (self._grabber.dropped if self._grabber else 0)

    def _capture(self) -> cv2.VideoCapture:
        if isinstance(self._uri, int):  # a camera device: V4L2 takes no FFmpeg timeouts
            return cv2.VideoCapture(self._uri)
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            round(self.config.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            round(self.config.read_timeout_s * 1000),
        ]
        threads = self.config.decode_threads or (None if self._is_file else 1)
        if threads is not None:
            params += [cv2.CAP_PROP_N_THREADS, threads]
        options = ffmpeg_options(self.config)
        with _ENV_LOCK:
            previous = os.environ.get(FFMPEG_OPTIONS_ENV)
            if options:
                os.environ[FFMPEG_OPTIONS_ENV] = options
            try:
                return cv2.VideoCapture(self._uri, cv2.CAP_FFMPEG, params)
            finally:
                if previous is None:
                    os.environ.pop(FFMPEG_OPTIONS_ENV, None)
                else:
                    os.environ[FFMPEG_OPTIONS_ENV] = previous

    def open(self) -> None:
        self.close()
        try:
            cap = self._capture()
        except cv2.error as exc:
            raise SourceError(f"cannot open video source {self.name!r}: {exc}") from exc
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"cannot open video source {self.name!r} (open timeout {self.config.open_timeout_s:g} s): "
                "check the URL (host, port, path, credentials), that the camera is reachable, or the device "
                "index or file path"
            )
        if self.config.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
        if self.config.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
        if self._latest:
            self._grabber = _Grabber(cap, self.name)
        else:
            self._cap = cap
        logger.info("opened %s (%s)", self.name, "newest frame only" if self._latest else "every frame")

    def read(self) -> RawFrame | None:
        self._pacer.wait()
        if self._grabber is not None:
            image = self._grabber.take(self.config.read_timeout_s + 1.0)
        elif self._cap is not None:
            ok, image = self._cap.read()
            if not ok:
                if self._is_file:
                    return None  # end of the video file
                raise SourceError(f"{self.name}: read failed (stream lost?)")
        else:
            raise SourceError(f"{self.name}: read before open")
        frame = RawFrame(image=image, index=self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        if self._grabber is not None:
            self._grabber.close(self.config.read_timeout_s + 2.0)
            self._dropped_before += self._grabber.dropped
            self._grabber = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None
