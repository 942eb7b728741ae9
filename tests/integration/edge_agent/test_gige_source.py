"""The GigE Vision source against Aravis' fake GigE Vision camera (arv-fake-gv-camera-0.8, a real GVCP/GVSP
device on 127.0.0.1), one camera process per test. Skips with the reason when aravis-tools, PyGObject or the
Aravis typelib are missing (``./dev`` installs them).

The fake camera paints a diagonal ramp (pixel value depends on x + y): a frame read back with the wrong width,
stride or byte order breaks it. Opened by address: discovery finds the fake camera through the host's other
interface, and the kernel drops GVSP from 127.0.0.1 to a non-loopback address (a fake-camera artefact).
"""

from __future__ import annotations

import itertools
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from edge_agent.config.sources import GigESource, ReconnectConfig
from edge_agent.errors import SourceError
from edge_agent.sources import build_source
from edge_agent.sources.aravis import AravisFrameSource
from edge_agent.sources.aravis_features import load_aravis
from edge_agent.sources.base import RawFrame
from edge_agent.sources.watchdog import WatchedSource

FAKE = shutil.which("arv-fake-gv-camera-0.8")
SERIAL = "FL14"
GVCP = "0100007F:0F74"  # 127.0.0.1:3956 as /proc/net/udp writes it
FAST = ReconnectConfig(initial_backoff_s=0.2, max_backoff_s=1.0, read_failures=2)


def _missing() -> str | None:
    if FAKE is None:
        return "arv-fake-gv-camera-0.8 not found: apt-get install aravis-tools gir1.2-aravis-0.8"
    try:
        load_aravis()
    except SourceError as exc:
        return str(exc)
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def _gvcp_bound() -> bool:
    with open("/proc/net/udp") as f:
        return any(line.split()[1] == GVCP for line in f.readlines()[1:])


class FakeCamera:
    """arv-fake-gv-camera-0.8 on 127.0.0.1 (``lost_per_thousand``: GVSP packets it drops)."""

    def __init__(self, lost_per_thousand: int = 0) -> None:
        self.lost = lost_per_thousand
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> FakeCamera:
        assert FAKE is not None
        if _gvcp_bound():
            pytest.fail("127.0.0.1:3956 (GVCP) is taken: another fake camera runs on this host; stop it")
        cmd = [FAKE, "-i", "127.0.0.1", "-s", SERIAL] + (["-r", str(self.lost)] if self.lost else [])
        # Not the test's pipes: a camera left behind would hold them open.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _gvcp_bound():
            assert self.proc.poll() is None, f"fake camera exited with {self.proc.returncode}"
            assert time.monotonic() < deadline, "fake camera did not bind 127.0.0.1:3956 in 10 s"
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def fake_camera() -> Iterator[Callable[..., FakeCamera]]:
    """Factory: a started fake camera; killed at teardown."""
    started: list[FakeCamera] = []

    def make(lost_per_thousand: int = 0) -> FakeCamera:
        cam = FakeCamera(lost_per_thousand)
        started.append(cam)
        return cam.start()

    yield make
    for cam in started:
        cam.kill()


@pytest.fixture
def gige() -> Iterator[Callable[..., AravisFrameSource]]:
    """Factory: a GigE source on the fake camera's address (not opened); closed at teardown."""
    made: list[AravisFrameSource] = []

    def make(**overrides: Any) -> AravisFrameSource:
        cfg = GigESource.model_validate({"type": "gige", "camera": "127.0.0.1", **overrides})
        source = build_source(cfg)
        assert isinstance(source, AravisFrameSource)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def _complete(source: AravisFrameSource, n: int, reads: int = 30) -> list[RawFrame]:
    """The first ``n`` complete frames: on a loaded host the fake camera's UDP packets are dropped now and
    then, and such a frame comes back incomplete (``image`` None, counted in ``source.incomplete``)."""
    got: list[RawFrame] = []
    for _ in range(reads):
        frame = source.read()
        assert frame is not None
        if frame.image is not None:
            got.append(frame)
            if len(got) == n:
                return got
    raise AssertionError(f"{n} complete frames not read in {reads} ({source.incomplete} incomplete)")


def diagonal_constant(image: np.ndarray) -> float:
    """Share of pixels equal to their upper-right neighbour's lower-left one: 1.0 for the fake ramp."""
    g = image.astype(int)
    return float((g[1:, :-1] == g[:-1, 1:]).mean())


@pytest.mark.parametrize(
    ("pixel_format", "width", "height", "gray", "min_diagonal"),
    [
        ("Mono8", 320, 240, True, 1.0),
        ("Mono16", 200, 120, True, 1.0),
        ("RGB8", 160, 120, False, 1.0),
        ("BayerRG8", 64, 48, False, 0.9),  # demosaicing blurs the ramp at the edges
    ],
)
def test_frames_arrive_in_the_size_and_format_asked(
    fake_camera: Callable[..., FakeCamera],
    gige: Callable[..., AravisFrameSource],
    pixel_format: str,
    width: int,
    height: int,
    gray: bool,
    min_diagonal: float,
) -> None:
    fake_camera()
    source = gige(pixel_format=pixel_format, width=width, height=height, frame_rate=100)
    source.open()
    frames = _complete(source, 3)
    assert source.features is not None
    back = source.features.readback()
    assert (back["PixelFormat"], back["Width"], back["Height"]) == (pixel_format, width, height)
    for frame in frames:
        assert frame is not None and frame.image is not None
        assert frame.image.shape == (height, width, 3) and frame.image.dtype == np.uint8
        assert diagonal_constant(frame.image) >= min_diagonal
        channels_equal = bool((frame.image[..., 0] == frame.image[..., 2]).all())
        assert channels_equal == gray
    indices = [f.index or 0 for f in frames]
    assert indices == sorted(indices) and len(set(indices)) == 3
    assert source.incomplete == indices[-1] - 2  # the frames between them: incomplete (a loaded host)


@pytest.mark.parametrize(
    ("exposure_us", "gain_db", "frame_rate"), [(5000.0, 2.0, 40.0), (20000.0, 7.0, 10.0)]
)
def test_exposure_gain_and_frame_rate_are_set_and_read_back(
    fake_camera: Callable[..., FakeCamera],
    gige: Callable[..., AravisFrameSource],
    exposure_us: float,
    gain_db: float,
    frame_rate: float,
) -> None:
    fake_camera()
    source = gige(exposure_us=exposure_us, gain_db=gain_db, frame_rate=frame_rate, width=64, height=48)
    source.open()
    assert source.read() is not None
    assert source.features is not None
    back = source.features.readback()
    assert back["ExposureTime"] == pytest.approx(exposure_us)
    assert back["Gain"] == pytest.approx(gain_db)
    assert back["AcquisitionFrameRate"] == pytest.approx(frame_rate)
    assert back["TriggerMode"] == "Off"


def test_exposure_changes_the_image(
    fake_camera: Callable[..., FakeCamera], gige: Callable[..., AravisFrameSource]
) -> None:
    """The fake camera scales its ramp by exposure: a third of the exposure, a darker frame."""
    means = []
    for exposure_us in (9000.0, 3000.0):
        camera = fake_camera()
        source = gige(pixel_format="Mono8", exposure_us=exposure_us, width=64, height=48)
        source.open()
        frame = source.read()
        assert frame is not None and frame.image is not None
        means.append(float(frame.image.mean()))
        source.close()
        camera.kill()
    assert means[1] < 0.6 * means[0]


@pytest.mark.parametrize("latest", [True, False])
def test_a_slow_consumer_gets_the_newest_frame_or_every_frame(
    fake_camera: Callable[..., FakeCamera], gige: Callable[..., AravisFrameSource], latest: bool
) -> None:
    fake_camera()
    source = gige(pixel_format="Mono8", width=64, height=48, frame_rate=100, latest=latest)
    source.open()
    block_ids: list[int] = []
    for _ in range(4):
        time.sleep(0.1)  # a consumer slower than the camera: ~10 frames arrive between two reads
        assert source.read() is not None and source.last_frame_id is not None
        block_ids.append(source.last_frame_id)
    gaps = [b - a for a, b in itertools.pairwise(block_ids)]
    if latest:
        assert min(gaps) > 1 and source.stale_dropped > 0
    else:  # in order from Aravis' queue (8 buffers): nothing skipped yet
        assert gaps == [1, 1, 1] and source.stale_dropped == 0


def test_software_trigger_yields_one_frame_per_trigger(
    fake_camera: Callable[..., FakeCamera], gige: Callable[..., AravisFrameSource]
) -> None:
    fake_camera()
    source = gige(trigger_mode="software", pixel_format="Mono8", width=64, height=48)
    source.open()
    time.sleep(0.5)  # free-running, the fake camera would send ~12 frames meanwhile
    assert source.statistics()["n_completed_buffers"] == 0
    block_ids: list[int] = []
    for _ in range(5):
        frame = source.read()  # complete, or counted incomplete (a loaded host drops packets)
        assert frame is not None and source.last_frame_id is not None
        block_ids.append(source.last_frame_id)
    time.sleep(0.5)
    # no frame without a trigger: complete ones, and those a loaded host left incomplete (Aravis' n_failures)
    assert source.statistics()["n_completed_buffers"] + source.incomplete == 5
    assert source.incomplete < 5
    assert block_ids == list(range(block_ids[0], block_ids[0] + 5))  # each trigger's own frame
    assert source.features is not None
    back = source.features.readback()
    assert (back["TriggerMode"], back["TriggerSource"]) == ("On", "Software")


def test_hardware_trigger_waits_for_the_line_while_the_camera_answers(
    fake_camera: Callable[..., FakeCamera], gige: Callable[..., AravisFrameSource]
) -> None:
    camera = fake_camera()
    source = gige(
        trigger_mode="hardware", trigger_line="Line0", trigger_activation="RisingEdge", frame_timeout_ms=300
    )
    source.open()
    assert source.features is not None
    back = source.features.readback()
    assert (back["TriggerMode"], back["TriggerSource"], back["TriggerActivation"]) == (
        "On",
        "Line0",
        "RisingEdge",
    )
    outcome: list[object] = []
    reader = threading.Thread(target=lambda: outcome.append(_read_or_error(source)), daemon=True)
    reader.start()
    reader.join(1.5)  # several frame timeouts: a silent line is no failure while the camera answers
    assert reader.is_alive() and not outcome, outcome
    assert source.statistics()["n_completed_buffers"] == 0
    camera.kill()
    reader.join(30)
    assert not reader.is_alive()
    assert isinstance(outcome[0], SourceError)
    outcome.clear()
    fake_camera()  # answers the closing source's last writes at once (a dead one costs 2.5 s per write)


def _read_or_error(source: AravisFrameSource) -> object:
    try:
        return source.read()
    except SourceError as exc:
        return exc


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"exposure_us": 1e9}, "ExposureTime 1e+09 µs is out of range: the camera accepts 10..1e+07 µs"),
        ({"gain_db": 50}, "Gain 50 dB is out of range: the camera accepts 0..10 dB"),
        ({"frame_rate": 5000}, "AcquisitionFrameRate 5000 Hz is out of range"),
        ({"width": 4096}, "Width 4096 is out of range: the camera accepts 1..2048"),
        ({"pixel_format": "BGR8"}, "PixelFormat BGR8 is not offered by the camera; it offers Bayer"),
        ({"packet_size": 1401}, "GevSCPSPacketSize 1401 must be"),
        ({"trigger_mode": "hardware", "trigger_line": "Line7"}, "TriggerSource Line7 is not offered"),
        ({"features": {"PayloadSize": 5}}, "feature PayloadSize is not writable (access mode RO)"),
        ({"features": {"AcquisitionMode": "Burst"}}, "AcquisitionMode 'Burst' is not one of Continuous"),
        ({"features": {"NoSuchFeature": 1}}, "the camera has no feature NoSuchFeature"),
        ({"features": {"ExposureTimeAbs": "long"}}, "ExposureTimeAbs takes a number, not 'long'"),
    ],
)
def test_a_wrong_setting_names_the_feature_and_what_the_camera_accepts(
    fake_camera: Callable[..., FakeCamera],
    gige: Callable[..., AravisFrameSource],
    overrides: dict[str, Any],
    expected: str,
) -> None:
    fake_camera()
    source = gige(**overrides)
    with pytest.raises(SourceError) as info:
        source.open()
    message = str(info.value)
    del info  # its traceback holds the camera: let it go while the fake camera still answers (else 2.5 s)
    assert expected in message
    assert source.features is None  # closed: the watchdog's next open starts clean


def test_camera_not_found_lists_the_cameras_aravis_sees(
    fake_camera: Callable[..., FakeCamera], gige: Callable[..., AravisFrameSource]
) -> None:
    fake_camera()
    source = gige(camera="Nowhere-0000")
    with pytest.raises(SourceError) as info:
        source.open()
    message = str(info.value)
    assert "camera not found" in message and f"Aravis-Fake-{SERIAL} (127.0.0.1" in message


def test_incomplete_buffers_count_as_corrupt_frames(
    fake_camera: Callable[..., FakeCamera], gige: Callable[..., AravisFrameSource]
) -> None:
    fake_camera(lost_per_thousand=10)  # ~1 % of the packets lost, ~40 % of the 55-packet frames
    source = gige(pixel_format="Mono8", width=320, height=240, frame_rate=200, packet_resend=False)
    watched = WatchedSource(source, FAST, threading.Event(), max_frames=20)
    frames = list(watched.frames())
    assert len(frames) == 20
    assert all(f.image is not None and diagonal_constant(f.image) == 1.0 for f in frames)
    assert watched.stats.corrupt > 0 and watched.stats.corrupt == source.incomplete
    assert watched.stats.reconnects == 0


def test_watchdog_reconnects_after_the_camera_is_killed_and_restarted(
    fake_camera: Callable[..., FakeCamera], gige: Callable[..., AravisFrameSource]
) -> None:
    camera = fake_camera()
    source = gige(
        pixel_format="Mono8", width=64, height=48, frame_rate=50, frame_timeout_ms=500, reconnect=FAST
    )
    stop = threading.Event()
    status: list[tuple[bool, str]] = []
    restarts: list[threading.Thread] = []

    def on_status(connected: bool, detail: str) -> None:  # called from the watchdog's loop
        status.append((connected, detail))
        if not connected and not restarts:  # the same camera back on the same address a second later
            restarts.append(threading.Timer(1.0, fake_camera))
            restarts[0].start()

    watched = WatchedSource(source, FAST, stop, on_status=on_status)
    before = after = 0
    for _frame in watched.frames():
        if not restarts:  # frames queued before the kill still come out
            before += 1
            if before == 5:
                camera.kill()
        else:
            after += 1
            if after == 5:
                stop.set()
    for thread in restarts:
        thread.join()
    assert before >= 5 and after == 5
    assert watched.stats.reconnects == 1
    assert [connected for connected, _ in status] == [True, False, True, False]
    assert "no frame within 500 ms" in status[1][1] or "control of the camera lost" in status[1][1]
