"""The OpenCV source against real network cameras: GStreamer's RTSP server (run by the system python) and
a local HTTP MJPEG server, serving simulator frames with a time code painted in
(tests/support/video_streams.py). Skips with the reason when GStreamer's RTSP server or its plug-ins are
not installed (``./dev`` installs them).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from edge_agent.config import OpenCVSource, ReconnectConfig
from edge_agent.errors import SourceError
from edge_agent.sources import build_source
from edge_agent.sources.base import RawFrame
from edge_agent.sources.opencv import OpenCVFrameSource
from edge_agent.sources.watchdog import WatchedSource
from factoryloop.stack.process import free_ports
from tests.support.rtsp_server import BAND_H, TIME_MOD
from tests.support.video_streams import RtspServer, mjpeg_http, read_stamp, rtsp_missing, write_sim_frames

W, H, N_FRAMES = 320, 240, 30
FAST = ReconnectConfig(initial_backoff_s=0.2, max_backoff_s=1.0, read_failures=2)


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if (reason := rtsp_missing()) is not None:
        pytest.skip(reason)
    return write_sim_frames(tmp_path_factory.mktemp("rtsp") / "frames", N_FRAMES, W, H)


@pytest.fixture
def rtsp_server(frames_dir: Path) -> Iterator[Callable[..., RtspServer]]:
    """Factory: a started RTSP server on a free port (``codec=``, ``fps=``); all killed at teardown."""
    started: list[RtspServer] = []

    def make(**kw: object) -> RtspServer:
        server = RtspServer(frames_dir, **kw)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.kill()


@pytest.fixture(scope="module")
def originals() -> list[np.ndarray]:
    from tests.support.video_streams import sim_frames

    return sim_frames(N_FRAMES, W, H)


def source(uri: str, **kw: object) -> OpenCVFrameSource:
    src = build_source(OpenCVSource.model_validate({"type": "opencv", "uri": uri, **kw}))
    assert isinstance(src, OpenCVFrameSource)
    return src


def read_n(src: OpenCVFrameSource, n: int) -> list[np.ndarray]:
    watched = WatchedSource(src, FAST, threading.Event(), max_frames=n)
    return [f.image for f in watched.frames() if f.image is not None]


def best_match(image: np.ndarray, originals: list[np.ndarray]) -> int:
    """Index of the served frame closest to ``image`` below the code band (mean absolute difference)."""
    body = image[BAND_H:].astype(np.int16)
    return int(np.argmin([np.abs(body - o[BAND_H:].astype(np.int16)).mean() for o in originals]))


@pytest.mark.parametrize("codec", ["h264", "mjpeg"])
def test_rtsp_frames_are_decoded(
    rtsp_server: Callable[..., RtspServer], originals: list[np.ndarray], codec: str
) -> None:
    server = rtsp_server(codec=codec)
    images = read_n(source(server.url), 12)
    assert len(images) == 12
    stamps = [read_stamp(img) for img in images]
    assert all(s is not None for s in stamps), stamps
    seqs = [s[1] for s in stamps if s is not None]
    assert seqs == sorted(set(seqs)), f"frames out of order or repeated: {seqs}"
    assert all(img.shape == (H, W, 3) for img in images)
    assert [best_match(img, originals) for img in images] == [seq % N_FRAMES for seq in seqs]


def _udp_sockets_of_this_process() -> int:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as fh:
            count += sum(1 for line in fh.readlines()[1:] if line.split()[9] in inodes)
    return count


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_transport(rtsp_server: Callable[..., RtspServer], transport: str) -> None:
    server = rtsp_server()
    src = source(server.url, transport=transport)
    src.open()
    try:
        frame = src.read()
        assert frame is not None and read_stamp(frame.image) is not None  # type: ignore[arg-type]
        udp = _udp_sockets_of_this_process()
    finally:
        src.close()
    assert (udp > 0) == (transport == "udp"), f"{udp} UDP sockets open with transport {transport}"
    assert "OPENCV_FFMPEG_CAPTURE_OPTIONS" not in os.environ  # set only while the capture opened


def _first_frame(src: OpenCVFrameSource, server: RtspServer, attempts: int = 3) -> RawFrame | None:
    """Open ``src`` and read a frame, reopening as the agent's watchdog would: under a full suite's load a
    stream has once delivered nothing for 15 s after its open (the watchdog's own tests cover that case)."""
    for attempt in range(attempts):
        src.open()
        try:
            return src.read()
        except SourceError as exc:
            src.close()
            if attempt == attempts - 1:
                tail = server.log_path.read_text()[-2000:]
                raise AssertionError(f"no frame in {attempts} opens; server: {tail}") from exc
    return None


@pytest.mark.parametrize(("latest", "expect_skip"), [(None, True), (False, False)])
def test_slow_consumer_gets_the_newest_frame(
    rtsp_server: Callable[..., RtspServer], latest: bool | None, expect_skip: bool
) -> None:
    server = rtsp_server(fps=30)
    src = source(server.url, latest=latest)
    first = _first_frame(src, server)
    try:
        threading.Event().wait(1.0)  # inference slower than the camera: ~30 frames arrive meanwhile
        second = src.read()
    finally:
        src.close()
    assert first is not None and second is not None
    a, b = read_stamp(first.image), read_stamp(second.image)  # type: ignore[arg-type]
    assert a is not None and b is not None
    if expect_skip:
        assert b[1] - a[1] > 1 and src.stale_dropped > 0, (a, b, src.stale_dropped)
    else:
        assert b[1] - a[1] == 1 and src.stale_dropped == 0, (a, b, src.stale_dropped)


def restart(server: RtspServer, done: threading.Event, at_us: list[int]) -> None:
    at_us.append(time.time_ns() // 1000 % TIME_MOD)
    server.start()
    done.set()


def test_watchdog_reconnects_after_the_server_restarts(rtsp_server: Callable[..., RtspServer]) -> None:
    server = rtsp_server()
    statuses: list[bool] = []
    stop = threading.Event()
    watched = WatchedSource(
        source(server.url, read_timeout_s=2), FAST, stop, lambda up, _d: statuses.append(up)
    )
    restarted = threading.Event()
    restarted_us: list[int] = []
    after: list[tuple[int, int]] = []
    guard = threading.Timer(120, stop.set)  # fail, not hang, if the camera never comes back
    guard.start()
    try:
        for frame in watched.frames():
            stamp = read_stamp(frame.image)  # type: ignore[arg-type]
            assert stamp is not None
            if frame.index == 5:
                server.kill()  # the camera vanishes; the watchdog retries while it is away
                threading.Timer(1.5, restart, (server, restarted, restarted_us)).start()
            elif restarted.is_set():
                after.append(stamp)
                if len(after) >= 5:
                    break
    finally:
        stop.set()
        guard.cancel()
    assert len(after) == 5
    assert all(t > restarted_us[0] for t, _seq in after), "frames after the restart come from the new server"
    assert watched.stats.reconnects >= 1 and watched.stats.read_errors >= FAST.read_failures
    assert statuses[0] is True and False in statuses and statuses[-1] is False  # up, down, ..., closed
    assert True in statuses[statuses.index(False) :], f"never reconnected: {statuses}"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung camera)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield sock.getsockname()[1]


def test_bad_urls_give_a_clear_source_error(rtsp_server: Callable[..., RtspServer], silent_port: int) -> None:
    server = rtsp_server()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    bad = {
        "unknown path": f"rtsp://viewer:s3cret@127.0.0.1:{server.port}/nothere",
        "nothing listening": f"rtsp://127.0.0.1:{closed_port}/line",
        "hung camera": f"rtsp://127.0.0.1:{silent_port}/line",
        "no such file": "/nonexistent/line.mp4",
    }
    for what, uri in bad.items():
        src = source(uri, open_timeout_s=2)
        with pytest.raises(SourceError, match="cannot open video source") as info:
            src.open()
        assert "s3cret" not in str(info.value) and "s3cret" not in src.name, what


def test_stalled_stream_fails_the_read(rtsp_server: Callable[..., RtspServer]) -> None:
    server = rtsp_server()
    src = source(server.url, read_timeout_s=1)
    src.open()
    try:
        assert src.read() is not None
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGSTOP)  # connection open, no data: a frozen camera
        try:
            with pytest.raises(SourceError, match=r"read timeout|no frame within"):
                for _ in range(100):  # frames already buffered come first
                    src.read()
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
    finally:
        src.close()


def test_http_mjpeg_stream(originals: list[np.ndarray]) -> None:
    with mjpeg_http(originals, fps=30) as url:
        images = read_n(source(url), 8)
    assert len(images) == 8
    stamps = [read_stamp(img) for img in images]
    seqs = [s[1] for s in stamps if s is not None]
    assert len(seqs) == 8 and seqs == sorted(set(seqs)), stamps
    assert [best_match(img, originals) for img in images] == [seq % N_FRAMES for seq in seqs]


def test_agent_heartbeat_counts_the_reconnect(rtsp_server: Callable[..., RtspServer], tmp_path: Path) -> None:
    """The agent as deployed: its heartbeat's camera shows the RTSP camera's loss and reconnect (Kafka is
    away: heartbeats and events wait in the disk buffer, which does not matter here)."""
    pytest.importorskip("onnx")
    from edge_agent.agent import Agent
    from edge_agent.config import parse_config
    from edge_agent.settings import AgentSettings
    from tests.integration.edge_agent.support import wait_until
    from tests.support.edge_onnx import pass_model

    server = rtsp_server()
    config = parse_config(
        {
            "agent_id": "agent-rtsp",
            "line_id": "line-rtsp",
            "station_id": "st-1",
            "source": {
                "type": "opencv",
                "uri": server.url,
                "read_timeout_s": 2,
                "reconnect": FAST.model_dump(),
            },
            "detector": {"onnx": str(pass_model(tmp_path / "pass.onnx")), "threads": 1},
            "deployments": {"enabled": False},
            "buffer": {"dir": str(tmp_path / "buffer")},
            "kafka": {"bootstrap_servers": f"127.0.0.1:{free_ports(1)[0]}", "topic_prefix": "rtsp."},
            "heartbeat_interval_s": 1,
        }
    )
    agent = Agent(config, AgentSettings(state_dir=tmp_path / "state"))
    agent.start()
    try:
        wait_until(lambda: agent.stats.get("frames_captured") >= 5, 60, "frames from the RTSP camera")
        server.kill()
        wait_until(lambda: not agent.heartbeat().camera.connected, 60, "the camera reported down")
        before = agent.stats.get("frames_captured")
        server.start()
        wait_until(
            lambda: agent.heartbeat().camera.connected and agent.stats.get("frames_captured") >= before + 5,
            60,
            "frames again after the camera came back",
        )
        heartbeat, gauges = agent.heartbeat(), agent.gauges()
    finally:
        agent.stop()
        agent.close(timeout_s=5)
    assert heartbeat.camera.reconnects >= 1 and agent.stats.get("source_down") >= 1
    assert gauges["source_reconnects"] == heartbeat.camera.reconnects
