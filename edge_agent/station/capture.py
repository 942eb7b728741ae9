"""Triggered capture: wait for a part, then take one frame per camera for it.

A live camera (a USB/GigE camera, an RTSP/HTTP stream) runs on in a grabber thread and the part gets the
newest frame taken at or after its trigger; a replayed source (simulator, folder, video file) gives the part
its next frame; a camera triggered itself (GigE in ``software`` or ``hardware`` trigger mode) is read once per
part, at the part's trigger: the read fires the software trigger or waits for the line's pulse.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from edge_agent.sources.base import RawFrame
from edge_agent.sources.watchdog import WatchedSource
from edge_agent.station.watch import WatchedTrigger
from edge_agent.triggers.base import TriggerEvent

logger = logging.getLogger(__name__)
FRAME_TIMEOUT_S = 1.0  # a live camera that gives no frame this long after a trigger: the part has no frame


def is_self_triggered(config: Any) -> bool:
    """A camera that takes a frame only when triggered (one read = one frame for one part)."""
    return config.type == "gige" and getattr(config, "trigger_mode", "free_run") != "free_run"


def is_live(config: Any) -> bool:
    """A camera that runs on by itself (frames not taken are lost), as opposed to a replay."""
    if config.type == "opencv":
        uri = config.uri
        return isinstance(uri, int) or "://" in str(uri) or str(uri).isdigit()
    return config.type not in ("folder", "simulated")


class NextFrame:
    """A replay: each part gets the source's next frame. The source opens (and its first frame is read) at
    start, before the first part: a folder preloading its images must not delay the first part."""

    def __init__(self, source: WatchedSource) -> None:
        self.source = source
        self.ended = False
        self._frames: Iterator[RawFrame] | None = None
        self._first: RawFrame | None = None

    def start(self) -> None:
        self._frames = self.source.frames()
        self._first = next(self._frames, None)
        self.ended = self._first is None

    def frame_for(self, _event: TriggerEvent) -> RawFrame | None:
        assert self._frames is not None
        frame, self._first = self._first, None
        if frame is None and not self.ended:
            frame = next(self._frames, None)
        self.ended = frame is None
        return frame

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()  # type: ignore[attr-defined]  # a generator: runs the source's finally


class TriggeredFrame:
    """A camera triggered itself: opened at start, read once per part at its trigger (never ahead of it)."""

    def __init__(self, source: WatchedSource) -> None:
        self.source = source
        self.ended = False
        self._frames: Iterator[RawFrame] | None = None

    def start(self) -> None:
        self._frames = self.source.frames()  # opened by the first read: reading ahead would fire a trigger

    def frame_for(self, _event: TriggerEvent) -> RawFrame | None:
        assert self._frames is not None
        frame = next(self._frames, None)
        self.ended = frame is None
        return frame

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()  # type: ignore[attr-defined]  # a generator: runs the source's finally


class LatestFrame:
    """A live camera read continuously; a part gets the newest frame at or after its trigger."""

    def __init__(self, source: WatchedSource, timeout_s: float = FRAME_TIMEOUT_S) -> None:
        self.source = source
        self.timeout_s = timeout_s
        self.ended = False
        self._latest: tuple[RawFrame, float] | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._grab, name=f"grab-{source.source.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _grab(self) -> None:
        try:
            for frame in self.source.frames():
                with self._cond:
                    self._latest = (frame, time.monotonic())
                    self._cond.notify_all()
        except Exception:  # a thread boundary: the station sees the camera as ended
            logger.exception("grabber of %s failed", self.source.source.name)
        finally:
            with self._cond:
                self.ended = True
                self._cond.notify_all()

    def frame_for(self, event: TriggerEvent) -> RawFrame | None:
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self.ended or (self._latest is not None and self._latest[1] >= event.at_mono),
                self.timeout_s,
            )
            if not ok or self._latest is None or self._latest[1] < event.at_mono:
                return None
            return self._latest[0]

    def close(self) -> None:
        self._thread.join(5.0)  # the source stops on the agent's stop event


Camera = NextFrame | LatestFrame | TriggeredFrame


def camera_for(config: Any, source: WatchedSource) -> Camera:
    """How a station takes a part's frame from this camera."""
    if is_self_triggered(config):
        return TriggeredFrame(source)
    return LatestFrame(source) if is_live(config) else NextFrame(source)


class TriggeredCapture:
    """Yields each part with one frame per camera (``None``: that camera had no frame for it). Ends on stop,
    or after the part at which a replayed camera ran out of frames.

    The cameras' sources run on ``camera_stop``, set once the trigger loop has ended, so that a part
    triggered just before a stop still gets its frames (``FRAME_TIMEOUT_S`` at most)."""

    def __init__(self, trigger: WatchedTrigger, cameras: list[Camera], camera_stop: threading.Event) -> None:
        self.trigger = trigger
        self.cameras = cameras
        self.camera_stop = camera_stop

    def _stop_cameras_after_grace(self, done: threading.Event) -> None:
        self.trigger.stop.wait()
        done.wait(FRAME_TIMEOUT_S)  # a camera down at the stop: its reconnect loop must end too
        self.camera_stop.set()

    def parts(self) -> Iterator[tuple[TriggerEvent, list[RawFrame | None]]]:
        done = threading.Event()
        threading.Thread(
            target=self._stop_cameras_after_grace, args=(done,), name="camera-stop", daemon=True
        ).start()
        for cam in self.cameras:  # after the stopper: a camera that cannot open must not block a stop
            cam.start()
        events = self.trigger.events()
        try:
            for event in events:
                frames = [cam.frame_for(event) for cam in self.cameras]
                yield event, frames
                if any(cam.ended for cam in self.cameras):
                    logger.info("a camera ended at part %s: the station stops", event.part_id)
                    return
        finally:
            self.trigger.stop.set()  # a camera ended: the station stops
            events.close()  # the generator's finally closes the trigger
            done.set()
            self.camera_stop.set()
            for cam in self.cameras:
                cam.close()
