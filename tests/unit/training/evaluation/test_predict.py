"""predict_folder: one annotated .jpg and one .json per image, unreadable images skipped and counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from factoryloop.schemas import Box, Detection
from training.evaluation import EmptyDataError, ModelInfo
from training.evaluation.predict import annotate, find_images, output_stems, predict_folder

MODEL = ModelInfo("m.onnx", None, "/tmp/m.onnx", "ab" * 32, "fp32", 224, ("scratch", "dent"))
DET = Detection(class_id=1, class_name="dent", confidence=0.875, box=Box(x1=10, y1=20, x2=60, y2=50))


class FakeDetector:
    """Stands in for OnnxDetector (a model file is an integration concern): one dent per image."""

    class options:  # mirrors OnnxDetector.options
        conf = 0.25

    def warmup(self) -> float:
        return 0.0

    def detect(self, image: np.ndarray) -> tuple[Detection, ...]:
        return (DET,)


def _image(path: Path, ok: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = cv2.imencode(path.suffix, np.full((80, 120, 3), 90, np.uint8))[1].tobytes()
    path.write_bytes(data if ok else data[: len(data) // 2])


@pytest.mark.parametrize(
    ("names", "stems"),
    [
        (["a.jpg", "sub/b.png"], ["a", "sub/b"]),
        (["x.jpg", "x.png"], ["x", "x.png"]),  # same stem: the later one keeps its suffix
        (["v1.2/img.0.jpg"], ["v1.2/img.0"]),
    ],
)
def test_output_stems(names: list[str], stems: list[str]) -> None:
    src = Path("/src")
    out = output_stems(src, [src / n for n in names])
    assert [p.as_posix() for p in out.values()] == stems


def test_predict_folder_writes_jpg_and_json_and_skips_corrupt(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "in" / "out"
    for name in ("a.jpg", "sub/b.png"):
        _image(src / name)
    _image(src / "sub" / "broken.jpg", ok=False)
    _image(out / "old.jpg")  # a previous run's output inside the folder is not an input
    seen: list[int] = []
    summary = predict_folder(FakeDetector(), MODEL, src, out, progress=seen.append)  # type: ignore[arg-type]
    assert summary.images == 2 and summary.per_class == {"dent": 2} and summary.detections == 2
    assert [rel for rel, _ in summary.skipped] == ["sub/broken.jpg"] and len(seen) == 3
    assert "2 images, 1 skipped" in summary.line() and "dent 2" in summary.line()
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json")) == ["a.json", "sub/b.json"]
    assert (out / "sub" / "b.jpg").is_file() and not (out / "sub" / "broken.jpg").exists()
    doc: dict[str, Any] = json.loads((out / "sub" / "b.json").read_text())
    assert doc["image"] == "sub/b.png" and (doc["width"], doc["height"]) == (120, 80)
    assert doc["model"] == {"name": "m.onnx", "version": None, "sha256": "ab" * 32, "source": "/tmp/m.onnx"}
    assert doc["detections"] == [
        {
            "class_id": 1,
            "class_name": "dent",
            "confidence": 0.875,
            "box": {"x1": 10.0, "y1": 20.0, "x2": 60.0, "y2": 50.0},
        }
    ]


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(EmptyDataError, match="no image in"):
        predict_folder(FakeDetector(), MODEL, tmp_path, tmp_path / "out")  # type: ignore[arg-type]
    assert find_images(tmp_path) == []


def test_annotate_draws_on_a_copy() -> None:
    image = np.full((80, 120, 3), 90, np.uint8)
    drawn = annotate(image, [DET])
    assert drawn.shape == image.shape and (image == 90).all() and not (drawn == 90).all()
