"""Sources: registry, folder replay, corrupt frames counted and skipped, watchdog reconnects."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.config import FolderSource, ReconnectConfig, SimulatedSource
from edge_agent.errors import SourceError, UnknownSourceType
from edge_agent.sources import build_source
from edge_agent.sources.base import FrameSource, RawFrame
from edge_agent.sources.watchdog import WatchedSource

FAST = ReconnectConfig(initial_backoff_s=0.01, max_backoff_s=0.02, read_failures=2)


def test_unknown_source_type() -> None:
    class Fake:
        type = "carrier-pigeon"

    with pytest.raises(UnknownSourceType, match="carrier-pigeon"):
        build_source(Fake())


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), np.full((20, 30, 3), i * 10, np.uint8))
    (tmp_path / "img9_corrupt.jpg").write_bytes(b"\xff\xd8 garbage")
    (tmp_path / "img99_empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("ignored")
    return tmp_path


def frames_of(
    source: FrameSource, stop: threading.Event | None = None, max_frames: int | None = None
) -> tuple[list[RawFrame], WatchedSource]:
    watched = WatchedSource(source, FAST, stop or threading.Event(), max_frames=max_frames)
    return list(watched.frames()), watched


@pytest.mark.parametrize(("fps", "preload"), [(1000, False), (0, False), (0, True)])
def test_folder_ordered_with_corrupt_frames_counted(folder: Path, fps: float, preload: bool) -> None:
    cfg = FolderSource(type="folder", path=folder, fps=fps, preload=preload)
    got, watched = frames_of(build_source(cfg))
    assert [f.item_id for f in got] == ["img0", "img1", "img2", "img3"]
    assert [int(f.image[0, 0, 0]) for f in got if f.image is not None] == [0, 10, 20, 30]
    assert watched.stats.corrupt == 2


def test_folder_preload_replays_from_memory(folder: Path) -> None:
    source = build_source(FolderSource(type="folder", path=folder, fps=0, preload=True, loop=True))
    source.open()
    for png in folder.glob("*.png"):
        png.unlink()  # decoded at open: the replay no longer reads the disk
    images = [source.read() for _ in range(12)]
    source.close()
    valid = [f for f in images if f is not None and f.image is not None]
    assert [f.item_id for f in valid[:4]] == ["img0", "img1", "img2", "img3"]
    assert [int(f.image[0, 0, 0]) for f in valid[4:8]] == [0, 10, 20, 30]  # type: ignore[index]


def test_folder_shuffled_looping(folder: Path) -> None:
    cfg = FolderSource(
        type="folder", path=folder, fps=1000, order="shuffled", loop=True, seed=1, pattern="img?.png"
    )
    got, _ = frames_of(build_source(cfg), max_frames=8)
    ids = [f.item_id for f in got]
    assert len(ids) == 8 and sorted(ids[:4]) == sorted(ids[4:]) == ["img0", "img1", "img2", "img3"]
    assert ids[:4] != ["img0", "img1", "img2", "img3"] or ids[4:] != ids[:4]


def test_simulated_source_is_deterministic() -> None:
    cfg = SimulatedSource(type="simulated", fps=0, seed=5, start=3)
    a, _ = frames_of(build_source(cfg), max_frames=2)
    b, _ = frames_of(build_source(cfg), max_frames=2)
    assert [f.index for f in a] == [3, 4]
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))


class Flaky(FrameSource):
    """Fails to open once, then serves frames; reads fail in a burst in the middle; then ends."""

    name = "flaky"

    def __init__(self) -> None:
        self.opens = 0
        self.reads = 0

    def open(self) -> None:
        self.opens += 1
        if self.opens == 1:
            raise SourceError("camera not plugged in")

    def read(self) -> RawFrame | None:
        self.reads += 1
        if self.reads > 12:
            return None
        if self.reads in (4, 5):
            raise SourceError("stream lost")
        if self.reads == 7:
            return RawFrame(np.zeros((0, 0, 3), np.uint8))
        return RawFrame(np.zeros((4, 4, 3), np.uint8), index=self.reads)

    def close(self) -> None:
        pass


def test_watchdog_reconnects_and_reports() -> None:
    events: list[tuple[bool, str]] = []
    source = Flaky()
    watched = WatchedSource(
        source, FAST, threading.Event(), on_status=lambda up, why: events.append((up, why))
    )
    got = list(watched.frames())
    assert [f.index for f in got] == [1, 2, 3, 6, 8, 9, 10, 11, 12]
    assert watched.stats.reconnects == 1 and watched.stats.corrupt == 1 and watched.stats.read_errors == 2
    assert source.opens == 3
    assert [up for up, _ in events] == [True, False, True, False]


def test_watchdog_gives_up_opening_on_stop() -> None:
    class Dead(Flaky):
        def open(self) -> None:
            raise SourceError("gone")

    stop = threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    got, watched = frames_of(Dead(), stop)
    assert got == [] and not watched.stats.connected
