"""A user's own .pt starts a run: loaded offline, the head fitted to the dataset's classes; others refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.models import write_sim_dataset
from training.errors import ModelBuildError
from training.yolo import train_yolo
from training.yolo.base_model import check_base_model
from training.yolo.recipes import TINY_YAML

TWO_CLASSES = ("rust", "hole")


@pytest.fixture(scope="module")
def own_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-class detector of our own (1 epoch on simulator frames): what a user might bring as yolov8n.pt."""
    root = tmp_path_factory.mktemp("base")
    data = write_sim_dataset(root / "data", range(6), range(100, 102))
    return train_yolo(
        data, root / "runs", model=str(TINY_YAML), epochs=1, imgsz=64, batch=3, device="cpu", cache=False
    ).best_pt


def _two_class_dataset(root: Path) -> Path:
    """The simulator's frames relabelled into 2 classes (class id modulo 2)."""
    data = write_sim_dataset(root, range(6), range(100, 102))
    for label in (root / "labels").rglob("*.txt"):
        lines = [line.split() for line in label.read_text().splitlines() if line.strip()]
        label.write_text("".join(f"{int(f[0]) % 2} {' '.join(f[1:])}\n" for f in lines))
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(TWO_CLASSES))
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}")
    return data


def test_a_checkpoint_with_other_classes_starts_a_run(tmp_path: Path, own_checkpoint: Path) -> None:

    info = check_base_model(own_checkpoint)
    assert info.task == "detect" and len(info.class_names) == 5 and info.architecture.endswith("fl-tiny.yaml")
    result = train_yolo(
        _two_class_dataset(tmp_path / "two"),
        tmp_path / "runs",
        model=own_checkpoint,
        epochs=1,
        imgsz=64,
        batch=3,
        device="cpu",
        cache=False,
    )
    assert result.class_names == TWO_CLASSES
    tuned, start = (_model(pt) for pt in (result.best_pt, own_checkpoint))
    assert tuned.model[-1].nc == 2 and start.model[-1].nc == 5
    assert tuned.names == dict(enumerate(TWO_CLASSES))
    # the backbone came from the checkpoint: its first convolution moved little from the start (1 epoch)
    w0, w1 = start.model[0].conv.weight.float(), tuned.model[0].conv.weight.float()
    assert w0.shape == w1.shape and float((w0 - w1).abs().mean()) < float(w0.abs().mean())


def _model(pt: Path) -> Any:
    import torch

    ckpt = torch.load(pt, map_location="cpu", weights_only=False)
    return ckpt.get("ema") or ckpt["model"]


def _text(path: Path) -> None:
    path.write_text("not a checkpoint\n")


def _state_dict(path: Path) -> None:
    import torch

    torch.save({"weights": torch.zeros(3)}, path)


def _plain_module(path: Path) -> None:
    import torch

    torch.save(torch.nn.Linear(2, 2), path)


@pytest.mark.parametrize(
    ("write", "match"),
    [
        (_text, "not a PyTorch checkpoint"),
        (_state_dict, "not a YOLO checkpoint"),
        (_plain_module, "not a YOLO checkpoint"),
    ],
)
def test_a_file_that_is_not_a_yolo_checkpoint_is_refused(
    tmp_path: Path, write: Callable[[Path], None], match: str
) -> None:
    pt = tmp_path / "yolov8n.pt"
    write(pt)
    with pytest.raises(ModelBuildError, match=match):
        check_base_model(pt)
    data = write_sim_dataset(tmp_path / "data", range(1), range(100, 101))
    with pytest.raises(ModelBuildError, match=match):
        train_yolo(data, tmp_path / "runs", model=pt, epochs=1, imgsz=64, device="cpu")


def test_a_missing_base_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelBuildError, match="does not exist"):
        check_base_model(tmp_path / "yolov8n.pt")
