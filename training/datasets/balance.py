"""Repeat-factor sampling for a YOLO training folder: images of rare classes appear more often per epoch.

A new defect class arrives with a few dozen reviewed images among hundreds of old ones; one pass over the data
shows it too seldom for the detector to learn it in a short fine-tune. Like LVIS's repeat-factor sampling
(Gupta et al., 2019), each class ``c`` gets a factor ``r(c) = clamp(ceil(min_share / f(c)), 1, max_repeat)``
where ``f(c)`` is the share of training images holding ``c``; an image is repeated ``max r(c)`` over its
classes (1 for an image without boxes). Repeats are hard links (copies where links are impossible) named
``<stem>__rep<k>``: Ultralytics reads them as more images, the label files stay identical.
"""

from __future__ import annotations

import math
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RepeatReport:
    images: int  # training images before the repeats
    added: int  # repeated copies written
    class_share: dict[int, float]  # class id -> share of training images holding it, before
    factors: dict[int, int]  # class id -> repeat factor

    def summary(self) -> str:
        parts = [f"{c}:x{r}" for c, r in sorted(self.factors.items()) if r > 1]
        return f"{self.added} repeats over {self.images} images ({', '.join(parts) or 'none'})"


def _classes(label: Path) -> set[int]:
    text = label.read_text(encoding="utf-8") if label.is_file() else ""
    return {int(line.split()[0]) for line in text.splitlines() if line.strip()}


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def repeat_rare_classes(root: Path, *, min_share: float = 0.3, max_repeat: int = 4) -> RepeatReport:
    """Add repeats of the ``train`` images of ``root`` (a YOLO folder) holding rare classes."""
    if not 0.0 <= min_share <= 1.0 or max_repeat < 1:
        raise ValueError(f"min_share must be in [0, 1] and max_repeat >= 1, got {min_share}, {max_repeat}")
    for old in [*root.glob("images/train/*__rep*.jpg"), *root.glob("labels/train/*__rep*.txt")]:
        old.unlink()  # idempotent: repeats are derived afresh
    images = sorted((root / "images" / "train").glob("*.jpg"))
    held = {img: _classes(root / "labels" / "train" / f"{img.stem}.txt") for img in images}
    counts: Counter[int] = Counter(c for classes in held.values() for c in classes)
    share = {c: n / max(1, len(images)) for c, n in counts.items()}
    factors = {c: max(1, min(max_repeat, math.ceil(min_share / s - 1e-9))) for c, s in share.items()}
    added = 0
    for img, classes in held.items():
        repeat = max((factors[c] for c in classes), default=1)
        label = root / "labels" / "train" / f"{img.stem}.txt"
        for k in range(1, repeat):
            _link(img, img.with_name(f"{img.stem}__rep{k}.jpg"))
            _link(label, label.with_name(f"{img.stem}__rep{k}.txt"))
            added += 1
    shutil.rmtree(root / "labels" / "cache", ignore_errors=True)
    for cache in root.glob("labels/*.cache"):
        cache.unlink()
    return RepeatReport(len(images), added, share, factors)
