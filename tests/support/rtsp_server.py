"""A real RTSP server for tests and benchmarks: GStreamer's gst-rtsp-server serving frames from a folder.

Runs under the SYSTEM python (Debian's python3-gi; the project's interpreter has no ``gi``)::

    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 --frames DIR [--fps 30] [--codec h264]
    /usr/bin/python3 tests/support/rtsp_server.py --frames DIR --record out.mkv --count 300  # same encoder

``DIR`` holds binary PPM (P6) frames of one size (``tests/support/video_streams.py`` writes simulator frames
there); they are replayed in a loop at ``--fps`` as a live source, encoded as H.264 (x264enc, zerolatency) or
MJPEG (jpegenc) and served at ``rtsp://127.0.0.1:PORT/PATH`` to every client from one shared pipeline.
With ``--stamp`` (default) each frame carries a code band in its top-left corner: the wall-clock time in
microseconds when the frame was handed to the encoder, a sequence number and a check word, in black and white
blocks that survive the codec (:func:`encode_stamp`, :func:`decode_stamp_rows`); readers measure capture
latency from it. Prints ``READY <url>`` on stdout once listening; stops on SIGTERM/SIGINT.

This module imports nothing outside the standard library at import time, so the project's tests can import
the stamp codec from it; ``gi`` is imported in :func:`main` only.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BLOCK = 16  # px per code bit (square)
COLS = 16  # bits per row of the code band
BITS = 80  # 48 bits time (us), 16 bits sequence, 16 bits check
BAND_W, BAND_H = COLS * BLOCK, (BITS // COLS) * BLOCK
TIME_MOD = 1 << 48


def _check(time_us: int, seq: int) -> int:
    word = (time_us << 16) | seq
    return (word ^ (word >> 16) ^ (word >> 32) ^ (word >> 48) ^ 0xA5C3) & 0xFFFF


def stamp_bits(time_us: int, seq: int) -> list[int]:
    """The 80 code bits of a frame, most significant first: time (48), sequence (16), check (16)."""
    t, s = time_us % TIME_MOD, seq & 0xFFFF
    value = (t << 32) | (s << 16) | _check(t, s)
    return [(value >> (BITS - 1 - i)) & 1 for i in range(BITS)]


def bits_value(bits: Sequence[int]) -> tuple[int, int] | None:
    """``(time_us, seq)`` from 80 decoded bits, or None when the check word does not match."""
    value = 0
    for b in bits:
        value = (value << 1) | (1 if b else 0)
    t, s, c = value >> 32, (value >> 16) & 0xFFFF, value & 0xFFFF
    return (t, s) if _check(t, s) == c else None


def encode_stamp(frame: bytearray, width: int, channels: int, time_us: int, seq: int) -> None:
    """Paint the code band into a packed 8-bit frame (``channels`` bytes per pixel) in place."""
    white, black = b"\xff" * (BLOCK * channels), b"\x00" * (BLOCK * channels)
    stride = width * channels
    for i, bit in enumerate(stamp_bits(time_us, seq)):
        x0, y0 = (i % COLS) * BLOCK * channels, (i // COLS) * BLOCK
        fill = white if bit else black
        for y in range(y0, y0 + BLOCK):
            off = y * stride + x0
            frame[off : off + BLOCK * channels] = fill


def decode_stamp_rows(gray_at: Any) -> tuple[int, int] | None:
    """Decode the band given ``gray_at(x, y)`` -> mean brightness of the block's centre (0..255)."""
    bits = []
    for i in range(BITS):
        cx, cy = (i % COLS) * BLOCK + BLOCK // 2, (i // COLS) * BLOCK + BLOCK // 2
        bits.append(1 if gray_at(cx, cy) > 127 else 0)
    return bits_value(bits)


def read_ppm(path: Path) -> tuple[int, int, bytes]:
    """``(width, height, rgb bytes)`` of a binary PPM (P6, maxval 255, no comments)."""
    data = path.read_bytes()
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while data[pos : pos + 1].isspace():
            pos += 1
        start = pos
        while not data[pos : pos + 1].isspace():
            pos += 1
        fields.append(data[start:pos])
    pos += 1  # the single whitespace after maxval
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError(f"{path}: not a binary 8-bit PPM (P6, maxval 255)")
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[pos : pos + w * h * 3]


ENCODERS = {
    "h264": "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=4000 "
    "! video/x-h264,profile=baseline",
    "mjpeg": "jpegenc quality=85",
}
PAYLOADERS = {
    "h264": "rtph264pay name=pay0 pt=96 config-interval=1",
    "mjpeg": "rtpjpegpay name=pay0 pt=26",
}


class _Feeder:
    """Pushes the frames into one media's appsrc at the configured rate until the media is unprepared."""

    def __init__(self, gst: Any, appsrc: Any, frames: list[bytes], width: int, fps: float, stamp: bool):
        self.gst, self.appsrc, self.frames, self.width = gst, appsrc, frames, width
        self.fps, self.stamp = fps, stamp
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="rtsp-feeder", daemon=True)

    def run(self) -> None:
        period = 1.0 / self.fps
        next_t = time.monotonic()
        seq = 0
        while not self.stop.is_set():
            frame = bytearray(self.frames[seq % len(self.frames)])
            if self.stamp:
                encode_stamp(frame, self.width, 3, time.time_ns() // 1000, seq)
            ret = self.appsrc.emit("push-buffer", self.gst.Buffer.new_wrapped(bytes(frame)))
            if ret not in (self.gst.FlowReturn.OK, self.gst.FlowReturn.FLUSHING):
                return
            seq += 1
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            elif delay < -1.0:
                next_t = time.monotonic()


def _load(folder: Path) -> tuple[int, int, list[bytes]]:
    decoded = [read_ppm(p) for p in sorted(folder.glob("*.ppm"))]
    if not decoded:
        raise SystemExit(f"no *.ppm frames in {folder}")
    width, height = decoded[0][0], decoded[0][1]
    if any((w, h) != (width, height) for w, h, _ in decoded) or width < BAND_W or height < BAND_H:
        raise SystemExit(f"frames must share one size of at least {BAND_W}x{BAND_H}")
    return width, height, [rgb for _, _, rgb in decoded]


def _record(gst: Any, args: argparse.Namespace, width: int, caps: str, frames: list[bytes]) -> int:
    """Encode ``--count`` frames with the stream's encoder into a Matroska file (a benchmark's baseline)."""
    pipeline = gst.parse_launch(
        f"appsrc name=src format=time caps={caps} ! videoconvert ! video/x-raw,format=I420 "
        f"! {ENCODERS[args.codec].format(gop=max(1, round(args.fps)))} ! matroskamux "
        f"! filesink location={args.record}"
    )
    appsrc = pipeline.get_by_name("src")
    pipeline.set_state(gst.State.PLAYING)
    period = round(gst.SECOND / args.fps)
    for seq in range(args.count):
        frame = bytearray(frames[seq % len(frames)])
        if args.stamp:
            encode_stamp(frame, width, 3, time.time_ns() // 1000, seq)
        buf = gst.Buffer.new_wrapped(bytes(frame))
        buf.pts, buf.duration = seq * period, period
        appsrc.emit("push-buffer", buf)
    appsrc.emit("end-of-stream")
    msg = pipeline.get_bus().timed_pop_filtered(120 * gst.SECOND, gst.MessageType.EOS | gst.MessageType.ERROR)
    pipeline.set_state(gst.State.NULL)
    if msg is None or msg.type != gst.MessageType.EOS:
        print(f"recording failed: {msg.parse_error() if msg else 'timeout'}", file=sys.stderr)
        return 1
    print(f"RECORDED {args.record}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Serve a folder of PPM frames over RTSP (gst-rtsp-server).")
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--frames", type=Path, required=True, help="folder of *.ppm frames (P6), one size")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--codec", choices=sorted(ENCODERS), default="h264")
    ap.add_argument("--path", default="/line", help="mount point, e.g. /line")
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--no-stamp", dest="stamp", action="store_false", help="do not paint the code band")
    ap.add_argument("--record", type=Path, help="instead of serving: write --count frames to this .mkv")
    ap.add_argument("--count", type=int, default=300)
    args = ap.parse_args(argv)

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    width, height, frames = _load(args.frames)
    rate = max(1, round(args.fps))
    caps = f"video/x-raw,format=RGB,width={width},height={height},framerate={rate}/1"
    if args.record is not None:
        return _record(Gst, args, width, caps, frames)
    # A camera that cannot keep up slows down: the feeder blocks on a short queue (no frame is lost and no
    # backlog builds up inside the server; each frame is stamped just before it is handed over).
    launch = (
        f"( appsrc name=src is-live=true do-timestamp=true format=time block=true max-buffers=2 caps={caps} "
        f"! queue max-size-buffers=2 ! videoconvert ! video/x-raw,format=I420 "
        f"! {ENCODERS[args.codec].format(gop=rate)} ! {PAYLOADERS[args.codec]} )"
    )
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    feeders: list[_Feeder] = []

    def on_unprepared(_media: Any, feeder: _Feeder) -> None:
        feeder.stop.set()

    def on_configure(_factory: Any, media: Any) -> None:
        appsrc = media.get_element().get_by_name("src")
        feeder = _Feeder(Gst, appsrc, frames, width, args.fps, args.stamp)
        feeders.append(feeder)
        media.connect("unprepared", on_unprepared, feeder)
        feeder.thread.start()

    factory.connect("media-configure", on_configure)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.path, factory)
    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port}", file=sys.stderr)
        return 3

    def quit_loop(*_: Any) -> bool:
        loop.quit()
        return False

    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, quit_loop)
    print(f"READY rtsp://{args.address}:{args.port}{args.path}", flush=True)
    loop.run()
    for feeder in feeders:
        feeder.stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
