"""The OpenCV source's config (timeouts, transport, newest-frame mode, FFmpeg options), its helpers, and
reading a real video file written by cv2.VideoWriter (the network cameras: tests/integration/edge_agent)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge_agent.config import OpenCVSource, parse_config
from edge_agent.errors import SourceError
from edge_agent.sources import build_source
from edge_agent.sources.opencv import FFMPEG_OPTIONS_ENV, OpenCVFrameSource, ffmpeg_options, redact


def cfg(**kw: Any) -> OpenCVSource:
    return OpenCVSource.model_validate({"type": "opencv", "uri": "rtsp://cam/line", **kw})


def test_defaults() -> None:
    c = cfg()
    got = (c.transport, c.open_timeout_s, c.read_timeout_s, c.latest, c.decode_threads, c.ffmpeg_options)
    assert got == ("tcp", 10.0, 5.0, None, None, {})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("transport", "http"),
        ("open_timeout_s", 0),
        ("open_timeout_s", 301),
        ("read_timeout_s", -1),
        ("ffmpeg_options", {"rtsp_transport": "tcp|fflags;nobuffer"}),  # would inject a second option
        ("ffmpeg_options", {"bad key": "1"}),
        ("latest", "sometimes"),
        ("decode_threads", 0),
        ("codec", "h264"),  # unknown keys are refused
    ],
)
def test_invalid_fields_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        cfg(**{field: value})


def test_line_yaml_network_camera() -> None:
    config = parse_config(
        {
            "agent_id": "a",
            "line_id": "l",
            "station_id": "s",
            "source": {
                "type": "opencv",
                "uri": "rtsp://viewer:pw@10.0.0.5:554/stream1",
                "transport": "udp",
                "open_timeout_s": 3,
                "read_timeout_s": 2,
                "ffmpeg_options": {"fflags": "nobuffer"},
            },
            "detector": {"onnx": "model.onnx"},
        }
    )
    assert isinstance(config.source, OpenCVSource)
    assert (config.source.transport, config.source.read_timeout_s) == ("udp", 2.0)


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, "rtsp_transport;tcp"),
        ({"transport": "udp"}, "rtsp_transport;udp"),
        ({"ffmpeg_options": {"fflags": "nobuffer"}}, "fflags;nobuffer|rtsp_transport;tcp"),
        ({"transport": "udp", "ffmpeg_options": {"rtsp_transport": "tcp"}}, "rtsp_transport;tcp"),
        ({"uri": "http://cam/stream.mjpg"}, ""),  # transport is RTSP's only
        ({"uri": "http://cam/x.mjpg", "ffmpeg_options": {"reconnect": "1"}}, "reconnect;1"),
    ],
)
def test_ffmpeg_options(kw: dict[str, Any], expected: str) -> None:
    assert ffmpeg_options(cfg(**kw)) == expected


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("rtsp://viewer:s3cret@10.0.0.5:554/stream1", "rtsp://viewer:***@10.0.0.5:554/stream1"),
        ("rtsp://viewer:s3cret@cam/stream1", "rtsp://viewer:***@cam/stream1"),
        ("rtsp://cam:554/stream1", "rtsp://cam:554/stream1"),
        ("/videos/line.mp4", "/videos/line.mp4"),
        ("0", "0"),
    ],
)
def test_redact(uri: str, expected: str) -> None:
    assert redact(uri) == expected
    assert build_source(cfg(uri=uri)).name == f"opencv:{expected}"


@pytest.fixture
def video_file(tmp_path: Path) -> Callable[..., Path]:
    """Factory: an MJPEG .avi (or MPEG-4 .mp4: ``fourcc="mp4v"``) of ``n`` frames whose brightness is
    5 * index (frame order is visible)."""

    def make(n: int, fourcc: str = "MJPG") -> Path:
        path = tmp_path / f"line{n}.{'avi' if fourcc == 'MJPG' else 'mp4'}"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), 30.0, (64, 48))
        assert writer.isOpened(), f"cv2 cannot write {fourcc} here"
        for i in range(n):
            writer.write(np.full((48, 64, 3), 5 * i, np.uint8))
        writer.release()
        return path

    return make


@pytest.mark.parametrize("latest", [None, False])
def test_video_file_reads_every_frame_then_ends(video_file: Callable[..., Path], latest: bool | None) -> None:
    source = build_source(cfg(uri=str(video_file(12)), latest=latest))
    source.open()
    try:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    finally:
        source.close()
    assert [f.index for f in frames] == list(range(12))
    assert [round(float(f.image.mean()) / 5) for f in frames if f.image is not None] == list(range(12))


@pytest.mark.parametrize("decode_threads", [1, 3])  # OpenCV's default: one per CPU (MJPEG: always 1)
def test_decode_threads_reach_the_decoder(video_file: Callable[..., Path], decode_threads: int) -> None:
    source = build_source(cfg(uri=str(video_file(2, "mp4v")), decode_threads=decode_threads))
    assert isinstance(source, OpenCVFrameSource)
    source.open()
    try:
        assert source._cap is not None
        assert source._cap.get(cv2.CAP_PROP_N_THREADS) == decode_threads
    finally:
        source.close()


def test_newest_frame_mode_on_a_file_hands_out_frames_in_order(video_file: Callable[..., Path]) -> None:
    """``latest: true`` on a file: the grab thread runs ahead, so frames may be skipped, never reordered;
    the end of the file is a failed read (a live source has no end)."""
    source = build_source(cfg(uri=str(video_file(40)), latest=True, read_timeout_s=1))
    assert isinstance(source, OpenCVFrameSource)
    source.open()
    seen: list[int] = []
    try:
        with pytest.raises(SourceError, match="read failed"):
            for _ in range(41):
                frame = source.read()
                assert frame is not None and frame.image is not None
                seen.append(round(float(frame.image.mean()) / 5))
    finally:
        source.close()
    assert seen == sorted(set(seen)) and seen[-1] == 39
    assert source.stale_dropped == 40 - len(seen)


def test_open_failure_is_a_source_error_and_restores_the_environment(tmp_path: Path) -> None:
    os.environ.pop(FFMPEG_OPTIONS_ENV, None)
    source = build_source(cfg(uri=str(tmp_path / "missing.mp4"), open_timeout_s=1))
    with pytest.raises(SourceError, match="cannot open video source"):
        source.open()
    assert FFMPEG_OPTIONS_ENV not in os.environ
    with pytest.raises(SourceError, match="read before open"):
        source.read()
