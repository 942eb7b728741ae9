"""GigE Vision (and USB3 Vision) GenICam cameras through Aravis 0.8, via PyGObject.

``open`` connects to the camera, writes the configured features (:mod:`edge_agent.sources.aravis_features`),
queues ``buffer_count`` stream buffers and starts acquisition. ``read`` hands out the next buffer as BGR:
incomplete buffers (lost packets, wrong size or format) come back as corrupt frames, which the watchdog counts
and skips; no frame within ``frame_timeout_ms``, or a camera whose control channel is lost (no heartbeat
answer), raises :class:`SourceError` so that the watchdog reconnects.

Trigger modes: ``free_run`` streams at the camera's frame rate; ``software`` fires TriggerSoftware in each
``read`` (one frame per read, i.e. per part when a station trigger drives the reads; ``frame_rate`` paces them
otherwise); ``hardware`` waits for the camera's trigger line: a silent line is normal there, so ``read`` keeps
waiting as long as the camera answers a register read every ``frame_timeout_ms``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from edge_agent.config.sources import GigESource
from edge_agent.errors import SourceError
from edge_agent.sources.aravis_features import CameraFeatures, list_cameras, load_aravis
from edge_agent.sources.base import FrameSource, Pacer, RawFrame
from edge_agent.sources.genicam_pixels import to_bgr

logger = logging.getLogger(__name__)


class AravisFrameSource(FrameSource):
    def __init__(self, config: GigESource) -> None:
        self.config = config
        self.name = f"gige:{config.camera or 'first'}"
        self._arv, self._glib = load_aravis()  # fails here, at build time, with what to install
        self._camera: Any = None
        self._stream: Any = None
        self.features: CameraFeatures | None = None
        self._lost_handler: int | None = None
        self._lost = threading.Event()  # set by Aravis' heartbeat thread
        self._pixel_format = ""
        self._pixel_code = 0
        self._index = 0
        self._pacer = Pacer(config.frame_rate if config.trigger_mode == "software" else None)
        self.incomplete = 0  # buffers handed out as corrupt
        self.stale_dropped = 0  # free run with latest: older frames requeued unread
        self.last_frame_id: int | None = None  # the camera's block id of the last buffer handed out
        self.last_host_ns: int | None = None  # host wall clock (ns) when its first packet arrived

    def open(self) -> None:
        self.close()
        self._lost.clear()
        try:
            self._camera = self._arv.Camera.new(self.config.camera)
        except self._glib.Error as exc:
            seen = list_cameras(self._arv)
            raise SourceError(
                f"{self.name}: camera not found or not answering ({exc.message}); Aravis sees "
                f"{'; '.join(seen) if seen else 'no camera'}. Check source.camera (an id from that list or "
                "the IP address), the cable, and that the camera is on this host's subnet"
            ) from exc
        device = self._camera.get_device()
        self._lost_handler = device.connect("control-lost", self._on_control_lost)
        try:
            self.features = CameraFeatures(self._arv, self._glib, self._camera, self.name)
            self._pixel_format = self.features.configure(self.config)
            self._pixel_code = self._camera.get_pixel_format()
            self._start_stream()
            logger.info(
                "%s: %s %s serial %s opened: %s",
                self.name,
                self._camera.get_vendor_name(),
                self._camera.get_model_name(),
                self._camera.get_device_serial_number(),
                self.features.readback(),
            )
        except BaseException:
            self.close()
            raise

    def _on_control_lost(self, _device: Any) -> None:
        logger.warning("%s: control of the camera lost (no heartbeat answer)", self.name)
        self._lost.set()

    def _start_stream(self) -> None:
        assert self.features is not None
        call, cam = self.features.call, self._camera
        self._stream = call("creating the stream", cam.create_stream, None, None)
        if isinstance(self._stream, self._arv.GvStream):
            resend = self._arv.GvStreamPacketResend
            mode = resend.ALWAYS if self.config.packet_resend else resend.NEVER
            self._stream.set_property("packet-resend", mode)
        payload = call("reading PayloadSize", cam.get_payload)
        for _ in range(self.config.buffer_count):
            self._stream.push_buffer(self._arv.Buffer.new_allocate(payload))
        call("starting acquisition", cam.start_acquisition)

    def read(self) -> RawFrame | None:
        if self._stream is None or self.features is None:
            raise SourceError(f"{self.name}: read before open")
        if self._lost.is_set():
            raise SourceError(f"{self.name}: control of the camera lost (camera off or unplugged?)")
        if self.config.trigger_mode == "software":
            self._pacer.wait()
            self._drain()
            self.features.call("TriggerSoftware", self._camera.software_trigger)
        buffer = self._pop()
        if self.config.latest and self.config.trigger_mode == "free_run":
            while (newer := self._stream.try_pop_buffer()) is not None:
                self._stream.push_buffer(buffer)
                self.stale_dropped += 1
                buffer = newer
        try:
            return self._to_frame(buffer)
        finally:
            self._stream.push_buffer(buffer)

    def _pop(self) -> Any:
        assert self.features is not None
        timeout_ms = self.config.frame_timeout_ms
        while True:
            buffer = self._stream.timeout_pop_buffer(timeout_ms * 1000)
            if buffer is not None:
                return buffer
            if self._lost.is_set():
                raise SourceError(f"{self.name}: control of the camera lost while waiting for a frame")
            if self.config.trigger_mode != "hardware":
                raise SourceError(
                    f"{self.name}: no frame within {timeout_ms} ms in {self.config.trigger_mode} mode: "
                    "camera stopped, or packets blocked (firewall, packet_size above the path MTU)?"
                )
            # No part at the hardware trigger yet: normal. Go on waiting while the camera answers.
            device = self._camera.get_device()
            self.features.call("checking the camera (register read)", device.read_register, 0)

    def _drain(self) -> None:
        """Requeue frames left from earlier triggers, so that this trigger's frame is the one returned."""
        while (stale := self._stream.try_pop_buffer()) is not None:
            logger.debug("%s: dropped a late frame %s", self.name, stale.get_frame_id())
            self._stream.push_buffer(stale)

    def _to_frame(self, buffer: Any) -> RawFrame:
        index = self._index
        self._index += 1
        self.last_frame_id, self.last_host_ns = buffer.get_frame_id(), buffer.get_system_timestamp()
        status = buffer.get_status()
        problem = None
        if status != self._arv.BufferStatus.SUCCESS:
            problem = f"incomplete ({status.value_nick})"
        elif buffer.get_image_pixel_format() != self._pixel_code:
            problem = f"not in {self._pixel_format}"
        else:
            try:
                w, h = buffer.get_image_width(), buffer.get_image_height()
                return RawFrame(image=to_bgr(buffer.get_data(), self._pixel_format, w, h), index=index)
            except ValueError as exc:
                problem = str(exc)
        self.incomplete += 1
        logger.debug("%s: frame %d (block %d) corrupt: %s", self.name, index, self.last_frame_id, problem)
        return RawFrame(image=None, index=index)

    def statistics(self) -> dict[str, int]:
        """The stream's counters (n_completed_buffers, n_failures, n_missing_packets, n_resent_packets...)."""
        if self._stream is None:
            return {}
        s = self._stream
        n = range(s.get_n_infos())
        return {s.get_info_name(i): s.get_info_uint64(i) for i in n if s.get_info_type(i).name == "guint64"}

    def close(self) -> None:
        if self._stream is not None:
            logger.info(
                "%s: %d corrupt, %d stale frames dropped; stream %s",
                self.name,
                self.incomplete,
                self.stale_dropped,
                self.statistics(),
            )
            if not self._lost.is_set():  # a lost camera would only time out (2.5 s)
                try:
                    self._camera.stop_acquisition()
                except self._glib.Error as exc:  # the camera is being let go anyway
                    logger.info("%s: stopping acquisition failed: %s", self.name, exc.message)
        if self._camera is not None and self._lost_handler is not None:
            self._camera.get_device().disconnect(self._lost_handler)
        self._stream = self._camera = self.features = None
        self._lost_handler = None
