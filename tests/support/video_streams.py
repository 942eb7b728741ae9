"""Real network video streams for the OpenCV source's tests and bench/bench_rtsp.py.

- :class:`RtspServer`: GStreamer's RTSP server (``tests/support/rtsp_server.py``) run by the system python,
  serving simulator frames written by :func:`write_sim_frames`; ``kill()`` / ``start()`` again on the same
  port to test reconnects. :func:`rtsp_missing` says why it cannot run here (None when it can).
- :func:`record_file`: the same stamped frames through the same encoder into a local file (a baseline).
- :func:`mjpeg_http`: a local HTTP server streaming JPEG frames as ``multipart/x-mixed-replace``.
- :func:`read_stamp` / :func:`latency_ms`: the time code painted into each served frame, read back.
"""

from __future__ import annotations

import functools
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from factoryloop.stack.process import free_ports
from tests.support.rtsp_server import BAND_H, BAND_W, TIME_MOD, decode_stamp_rows, encode_stamp

SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"
_PROBE = """
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [n for n in ("appsrc", "videoconvert", "x264enc", "rtph264pay", "jpegenc", "rtpjpegpay")
           if Gst.ElementFactory.find(n) is None]
print(" ".join(missing))
"""
APT_PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly"
)


@functools.cache
def rtsp_missing() -> str | None:
    """Why GStreamer's RTSP server cannot run here (for ``pytest.skip``), or None when it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"no {SYSTEM_PYTHON} (the RTSP test server runs on Debian's python3-gi)"
    try:
        out = subprocess.run([SYSTEM_PYTHON, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot probe GStreamer with {SYSTEM_PYTHON}: {exc}"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return f"GStreamer RTSP server unavailable ({last}); apt-get install {APT_PACKAGES}"
    if out.stdout.strip():
        return f"GStreamer elements missing: {out.stdout.strip()}; apt-get install {APT_PACKAGES}"
    return None


def sim_frames(count: int, width: int = 640, height: int = 480, seed: int = 0) -> list[np.ndarray]:
    from factoryloop.sim import SimConfig, Simulator

    sim = Simulator(SimConfig.model_validate({"camera": {"width": width, "height": height}}), seed=seed)
    return [sim.frame(i).image for i in range(count)]


def write_sim_frames(folder: Path, count: int, width: int = 640, height: int = 480, seed: int = 0) -> Path:
    """Simulator frames as binary PPM files (what the RTSP server script reads without numpy)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(sim_frames(count, width, height, seed)):
        cv2.imwrite(str(folder / f"frame{i:05d}.ppm"), image)
    return folder


def read_stamp(image: np.ndarray) -> tuple[int, int] | None:
    """``(time_us mod 2**48, seq mod 2**16)`` painted by the server into ``image`` (BGR), or None."""
    if image.shape[0] < BAND_H or image.shape[1] < BAND_W:
        return None
    gray = cv2.cvtColor(image[:BAND_H, :BAND_W], cv2.COLOR_BGR2GRAY)
    return decode_stamp_rows(lambda x, y: float(gray[y - 4 : y + 4, x - 4 : x + 4].mean()))


def latency_ms(stamp_time_us: int, now_us: int | None = None) -> float:
    """Milliseconds from the stamp's time to now (both wall clock of this machine)."""
    now = time.time_ns() // 1000 if now_us is None else now_us
    return ((now - stamp_time_us) % TIME_MOD) / 1000.0


def record_file(frames: Path, out: Path, count: int, codec: str = "h264", fps: float = 30.0) -> Path:
    """``count`` stamped frames encoded as the RTSP server encodes them, into a Matroska file."""
    cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--frames", str(frames), "--record", str(out)]
    cmd += ["--count", str(count), "--codec", codec, "--fps", str(fps)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"recording {out} failed: {done.stderr[-2000:]}")
    return out


@dataclass
class RtspServer:
    """One ``rtsp_server.py`` process; ``start`` again after ``kill`` serves on the same port."""

    frames: Path
    fps: float = 30.0
    codec: str = "h264"
    path: str = "/line"
    port: int = field(default_factory=lambda: free_ports(1)[0])
    proc: subprocess.Popen[str] | None = None

    @property
    def log_path(self) -> Path:
        return self.frames.parent / f"rtsp_server_{self.port}.log"

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    def start(self, timeout_s: float = 30.0) -> RtspServer:
        cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port), "--frames", str(self.frames)]
        cmd += ["--fps", str(self.fps), "--codec", self.codec, "--path", self.path]
        deadline = time.monotonic() + timeout_s
        while True:  # the port of a killed server may take a moment to be free again
            with self.log_path.open("a") as log:  # stderr to a file: a full pipe would stall the server
                self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
            line = self._first_line(timeout_s)
            if line.startswith("READY"):
                return self
            self.kill()
            if time.monotonic() > deadline:
                tail = self.log_path.read_text()[-2000:]
                raise RuntimeError(f"RTSP server did not start: {line!r}; stderr: {tail}")
            time.sleep(0.5)

    def _first_line(self, timeout_s: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout_s)
        return got[0].strip() if got else ""

    def kill(self) -> None:
        """SIGKILL: the camera vanishes without closing its sessions."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


class _MjpegHandler(BaseHTTPRequestHandler):
    server: _MjpegHttpd

    def do_GET(self) -> None:
        if self.path != "/stream.mjpg":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        period, seq = 1.0 / self.server.fps, 0
        try:
            while not self.server.stopping.is_set():
                image = self.server.frames[seq % len(self.server.frames)].copy()
                buf = bytearray(image.tobytes())
                encode_stamp(buf, image.shape[1], 3, time.time_ns() // 1000, seq)
                image = np.frombuffer(bytes(buf), np.uint8).reshape(image.shape)
                jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
                head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                seq += 1
                self.server.stopping.wait(period)
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, format: str, *args: Any) -> None:
        return


class _MjpegHttpd(ThreadingHTTPServer):
    daemon_threads = True
    frames: list[np.ndarray]
    fps: float
    stopping: threading.Event


@contextmanager
def mjpeg_http(frames: list[np.ndarray], fps: float = 30.0) -> Iterator[str]:
    """Serve ``frames`` (BGR) in a loop as an MJPEG stream; yields its URL."""
    httpd = _MjpegHttpd(("127.0.0.1", 0), _MjpegHandler)
    httpd.frames, httpd.fps, httpd.stopping = frames, fps, threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, name="mjpeg-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/stream.mjpg"
    finally:
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
