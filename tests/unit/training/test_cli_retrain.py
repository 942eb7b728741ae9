"""The retrain command's argument parsing and its progress line."""

from __future__ import annotations

import pytest

from training.cli_retrain import parse_duration, parse_imgsz, progress_line
from training.yolo.progress import TrainProgress


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800),
        ("1h", 3600),
        ("1h30m", 5400),
        ("90s", 90),
        ("1800", 1800),
        ("0.5h", 1800),
        (" 2m ", 120),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "30x", "-5m", "0", "1d"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "value"), [(None, None), ("auto", "auto"), ("320", 320)])
def test_parse_imgsz(text: str | None, value: int | str | None) -> None:
    assert parse_imgsz(text) == value


@pytest.mark.parametrize("text", ["big", "16", "5000", "-1"])
def test_parse_imgsz_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="imgsz"):
        parse_imgsz(text)


def test_progress_line_shows_epoch_eta_and_metrics() -> None:
    p = TrainProgress(
        epoch=3,
        epochs=10,
        elapsed_s=65,
        eta_s=3725,
        losses={"box_loss": 1.23456},
        metrics={"mAP50": 0.5},
        budget_s=1800,
    )
    line = progress_line(p)
    assert "epoch 3/10" in line and "elapsed 0:01:05" in line and "ETA 1:02:05" in line
    assert "budget 0:30:00" in line and "box_loss 1.235" in line and "mAP50 0.500" in line
