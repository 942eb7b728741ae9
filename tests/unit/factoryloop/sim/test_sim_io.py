from __future__ import annotations

import json
import time

import cv2
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from factoryloop.sim import (
    LiveSource,
    Oracle,
    SimConfig,
    SimError,
    load_config,
    write_video,
    write_yolo_dataset,
)
from factoryloop.sim.cli import app


def test_oracle_matches_frames(make_sim) -> None:
    sim = make_sim(defects={"dent": {"rate": 0.8}})
    oracle = Oracle.for_simulator(sim)
    for i in (4, 0, 4):
        assert oracle.boxes(i) == sim.frame(i).boxes


def test_live_source_fast_and_paced(make_sim) -> None:
    sim = make_sim()
    assert [f.index for f in LiveSource(sim, fps=0, start=3, count=4)] == [3, 4, 5, 6]
    t0 = time.monotonic()
    assert len(list(LiveSource(sim, fps=50, count=6))) == 6
    assert time.monotonic() - t0 >= 5 / 50 * 0.9
    with pytest.raises(SimError):
        LiveSource(sim, fps=-1)


@pytest.mark.parametrize(("codec", "suffix"), [("mp4v", ".mp4"), ("MJPG", ".avi")])
def test_video_roundtrip(make_sim, tmp_path, codec, suffix) -> None:
    path = write_video(make_sim(), tmp_path / f"line{suffix}", count=5, codec=codec)
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 5


def test_yolo_dataset_labels(make_sim, tmp_path) -> None:
    sim = make_sim(defects={"stain": {"rate": 1.0}})
    data = write_yolo_dataset(sim, tmp_path / "ds", count=3, val_every=0)
    label = (tmp_path / "ds/labels/train/frame_0000001.txt").read_text().split()
    b = sim.frame(1).boxes[0]
    assert int(label[0]) == b.class_id == 2
    assert float(label[1]) == pytest.approx((b.x1 + b.x2) / 2 / 320, abs=1e-5)
    assert "names" in data.read_text()


def test_config_rejects_unknown_fields_and_names_the_file(tmp_path) -> None:
    with pytest.raises(ValidationError):
        SimConfig.model_validate({"camera": {"widht": 640}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("product: nope\n")
    with pytest.raises(SimError, match=r"bad\.yaml"):
        load_config(bad)
    with pytest.raises(ValidationError, match="fps"):
        SimConfig.model_validate({"camera": {"fps": 0}, "drift": [{"type": "lighting", "at_s": 1}]})


def test_cli_frames_and_show_config(tmp_path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed: 3\ncamera: {width: 320, height: 240}\n")
    runner = CliRunner()
    res = runner.invoke(app, ["frames", str(tmp_path / "out"), "--count", "3", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "out/labels.jsonl").read_text().splitlines()
    assert [json.loads(x)["index"] for x in lines] == [0, 1, 2]
    res = runner.invoke(app, ["show-config", "--config", str(cfg)])
    assert res.exit_code == 0 and "seed: 3" in res.output
