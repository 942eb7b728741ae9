"""Weights trained elsewhere, checked before ``factoryloop model register`` takes them: exactly the product's
classes in its order, and a known input size (the checkpoint's own, or ``--imgsz``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.training.yolo.test_base_model import own_checkpoint  # noqa: F401 (the fixture)
from training.errors import ModelBuildError
from training.yolo.base_model import check_base_model
from training.yolo.brought import check_brought


def _without_imgsz(pt: Path, out: Path) -> Path:
    """The same weights, from a pipeline that does not record the size it trained at."""
    import torch

    ckpt = torch.load(pt, map_location="cpu", weights_only=False)
    ckpt["train_args"] = {k: v for k, v in (ckpt.get("train_args") or {}).items() if k != "imgsz"}
    torch.save(ckpt, out)
    return out


def test_the_products_classes_and_a_known_size(own_checkpoint: Path, tmp_path: Path) -> None:  # noqa: F811
    names = check_base_model(own_checkpoint).class_names
    assert check_brought(own_checkpoint, names).imgsz == 64  # the size it was trained at
    bare = _without_imgsz(own_checkpoint, tmp_path / "bare.pt")
    with pytest.raises(ModelBuildError, match="does not say the input size it was trained at: give --imgsz"):
        check_brought(bare, names)
    assert check_brought(bare, names, imgsz=96).class_names == names  # --imgsz given: taken


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda names: names[::-1], "same classes in another order"),
        (lambda names: (*names, "rust"), "it lacks rust"),
        (lambda names: names[1:], "the product does not"),
    ],
    ids=["order", "missing", "extra"],
)
def test_other_classes_are_refused(own_checkpoint: Path, change, says: str) -> None:  # noqa: F811
    names = check_base_model(own_checkpoint).class_names
    with pytest.raises(ModelBuildError, match=says):
        check_brought(own_checkpoint, change(names))
