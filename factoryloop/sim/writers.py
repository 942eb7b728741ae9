"""Write simulator output: video files, JPEG folders with JSON labels, and YOLO datasets."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import yaml

from factoryloop.sim.errors import SimError
from factoryloop.sim.render import SimFrame, Simulator

log = logging.getLogger(__name__)
Progress = Callable[[int], None]
_CODECS = {"mp4v": ".mp4", "MJPG": ".avi"}


def _frames(sim: Simulator, start: int, count: int) -> Iterable[SimFrame]:
    if count < 0:
        raise SimError(f"count must be >= 0, got {count}")
    return sim.frames(start, count)


def encode_jpeg(frame: SimFrame, quality: int = 92) -> bytes:
    ok, buf = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise SimError(f"JPEG encoding failed for frame {frame.index}")
    return buf.tobytes()


def write_video(
    sim: Simulator,
    path: str | Path,
    *,
    count: int,
    start: int = 0,
    codec: str = "mp4v",
    fps: float | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write ``count`` frames to a video (``mp4v`` -> .mp4, ``MJPG`` -> .avi)."""
    if codec not in _CODECS:
        raise SimError(f"unknown codec {codec!r}; use one of {', '.join(_CODECS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = fps or sim.config.camera.fps or 30.0
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), rate, (sim.width, sim.height))
    if not writer.isOpened():
        raise SimError(f"{path}: cannot open a {codec} video writer")
    try:
        for frame in _frames(sim, start, count):
            writer.write(frame.image)
            if progress:
                progress(1)
    finally:
        writer.release()
    log.info("wrote %s frames to %s", count, path)
    return path


def _label_record(frame: SimFrame) -> dict[str, object]:
    return {
        "index": frame.index,
        "timestamp_s": frame.timestamp_s,
        "product": frame.product,
        "drift": list(frame.drift),
        "boxes": [
            {
                "class_id": b.class_id,
                "class_name": b.class_name,
                "x1": b.x1,
                "y1": b.y1,
                "x2": b.x2,
                "y2": b.y2,
            }
            for b in frame.boxes
        ],
    }


def write_image_folder(
    sim: Simulator, out_dir: str | Path, *, count: int, start: int = 0, progress: Progress | None = None
) -> Path:
    """``frame_<index>.jpg`` files plus ``labels.jsonl`` (one JSON record per frame). Returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "labels.jsonl").open("w", encoding="utf-8") as labels:
        for frame in _frames(sim, start, count):
            (out / f"frame_{frame.index:07d}.jpg").write_bytes(encode_jpeg(frame))
            labels.write(json.dumps(_label_record(frame), sort_keys=True) + "\n")
            if progress:
                progress(1)
    return out


def write_yolo_dataset(
    sim: Simulator,
    out_dir: str | Path,
    *,
    count: int,
    start: int = 0,
    val_every: int = 5,
    progress: Progress | None = None,
) -> Path:
    """An ultralytics YOLO dataset (images/{train,val}, labels/{train,val}, data.yaml); returns data.yaml.

    Class ids and ``names`` are the line's class map (``sim.config.class_names``).
    """
    out = Path(out_dir).resolve()
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for frame in _frames(sim, start, count):
        split = "val" if val_every > 0 and frame.index % val_every == 0 else "train"
        stem = f"frame_{frame.index:07d}"
        (out / "images" / split / f"{stem}.jpg").write_bytes(encode_jpeg(frame))
        lines = [
            f"{b.class_id} " + " ".join(f"{v:.6f}" for v in b.yolo(sim.width, sim.height))
            for b in frame.boxes
        ]
        (out / "labels" / split / f"{stem}.txt").write_text(
            "".join(x + "\n" for x in lines), encoding="utf-8"
        )
        if progress:
            progress(1)
    data = {
        "path": str(out),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(sim.config.class_names)),
    }
    data_yaml = out / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return data_yaml
