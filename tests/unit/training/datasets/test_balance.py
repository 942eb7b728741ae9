"""Repeat-factor sampling: rare classes' images are repeated (hard links), common ones and empty ones not."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.datasets.balance import repeat_rare_classes


def _folder(tmp_path: Path, labels: list[str]) -> Path:
    for sub in ("images/train", "labels/train"):
        (tmp_path / sub).mkdir(parents=True)
    for i, text in enumerate(labels):
        (tmp_path / "images" / "train" / f"im{i}.jpg").write_bytes(b"\xff\xd8" + bytes([i]))
        (tmp_path / "labels" / "train" / f"im{i}.txt").write_text(text)
    return tmp_path


BOX = " 0.5 0.5 0.1 0.1\n"


@pytest.mark.parametrize(
    ("labels", "min_share", "max_repeat", "added", "factors"),
    [
        # class 1 in 1 of 10 images: ceil(0.3 / 0.1) = 3 -> two copies of that image
        (["0" + BOX] * 9 + ["1" + BOX], 0.3, 4, 2, {0: 1, 1: 3}),
        (["0" + BOX] * 9 + ["1" + BOX], 0.3, 2, 1, {0: 1, 1: 2}),  # capped
        (["0" + BOX] * 9 + ["1" + BOX], 0.0, 4, 0, {0: 1, 1: 1}),  # off
        (["0" + BOX] * 5 + ["1" + BOX] * 5, 0.3, 4, 0, {0: 1, 1: 1}),  # balanced already
        (["0" + BOX + "1" + BOX] + [""] * 9, 0.3, 4, 2, {0: 3, 1: 3}),  # one image with both, the rest empty
    ],
)
def test_repeat_factors(
    tmp_path: Path, labels: list[str], min_share: float, max_repeat: int, added: int, factors: dict[int, int]
) -> None:
    root = _folder(tmp_path, labels)
    report = repeat_rare_classes(root, min_share=min_share, max_repeat=max_repeat)
    assert report.factors == factors and report.added == added and report.images == len(labels)
    copies = sorted(p.name for p in (root / "images" / "train").glob("*__rep*.jpg"))
    assert len(copies) == added
    for copy in copies:
        stem = copy.split("__rep")[0]
        original = root / "labels" / "train" / f"{stem}.txt"
        assert (root / "labels" / "train" / copy.replace(".jpg", ".txt")).read_text() == original.read_text()
    again = repeat_rare_classes(root, min_share=min_share, max_repeat=max_repeat)  # idempotent
    assert again == report and len(list((root / "images" / "train").glob("*.jpg"))) == len(labels) + added


def test_bad_parameters_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="min_share"):
        repeat_rare_classes(_folder(tmp_path, ["0" + BOX]), min_share=1.5)
