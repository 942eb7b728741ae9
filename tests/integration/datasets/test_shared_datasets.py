"""Real industrial data (../shared/datasets): imports end to end; skipped when the folder is absent."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from factoryloop.cli.dataset import app
from training.datasets import DatasetStore, get_importer

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"
NEU = SHARED / "neu-det"
TILES = SHARED / "magnetic-tile"
NEU_CLASSES = ("crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches")

pytestmark = [
    pytest.mark.datasets,
    pytest.mark.skipif(not NEU.is_dir() or not TILES.is_dir(), reason="../shared/datasets is absent"),
]


def test_neu_det_voc_import(tmp_path) -> None:
    plan = get_importer("voc")(NEU)
    assert plan.class_names == NEU_CLASSES and len(plan.images) == 1800
    # 300 images per class, by file name (some images also hold boxes of other classes)
    for cls in NEU_CLASSES:
        assert sum(1 for p in plan.images if p.path.name.startswith(cls)) == 300
    store = DatasetStore(tmp_path / "store")
    store.import_plan(plan, product="steel_strip")
    version = store.freeze_version("neu", class_names=NEU_CLASSES, test_fraction=0.2)
    st = store.stats(version)
    assert set(st.images_per_class) == set(NEU_CLASSES)
    assert all(n >= 300 for n in st.images_per_class.values())
    assert store.export_yolo(version, tmp_path / "yolo").is_file()


def test_magnetic_tile_mask_import_via_cli(tmp_path) -> None:
    res = CliRunner().invoke(
        app, ["import", str(TILES), "--format", "mask", "--product", "tile", "--root", str(tmp_path / "s")]
    )
    assert res.exit_code == 0, res.output
    for cls in ("blowhole", "break", "crack", "fray", "uneven"):
        assert cls in res.output
    st = DatasetStore(tmp_path / "s").stats()
    assert st.images == 1344
    assert st.defect_free >= 952 and st.images_per_class["blowhole"] == 115
