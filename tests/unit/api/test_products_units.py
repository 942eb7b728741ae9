"""The API's view of the product catalog: settings, class resolution, and no training imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.context import AppContext
from api.errors import UnknownClassError
from api.services.products import class_map, current_name, no_class_map_note, resolve_detections
from api.settings import ApiSettings
from factoryloop.products import ProductCatalog
from tests.support.events import detection


@pytest.mark.parametrize("configured", [True, False])
def test_catalog_folder_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured: bool
) -> None:
    monkeypatch.setenv("FACTORYLOOP_DATASETS", str(tmp_path / "store"))
    if configured:
        monkeypatch.setenv("FACTORYLOOP_API_PRODUCTS_DIR", str(tmp_path / "catalog"))
    else:
        monkeypatch.delenv("FACTORYLOOP_API_PRODUCTS_DIR", raising=False)
    settings = ApiSettings(database_url=f"sqlite:///{tmp_path / 'api.db'}")
    ctx = AppContext.from_settings(settings)
    try:
        want = tmp_path / "catalog" if configured else tmp_path / "store" / "products"
        assert ctx.products.root == want
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("scratch", ("scratch", 0)),
        ("dent", ("dent_deep", 1)),
        ("dent_deep", ("dent_deep", 1)),
        ("hole", ("pit", 2)),
    ],
)
def test_resolve_detections(tmp_path: Path, name: str, expected: tuple[str, int]) -> None:
    catalog = ProductCatalog(tmp_path)
    catalog.create("pcb", ["scratch", "dent", "pit", "hole"])
    catalog.update("pcb", lambda p: p.with_class_renamed("dent", "dent_deep"))
    pcb = catalog.update("pcb", lambda p: p.with_class_merged("hole", "pit"))
    (d,) = resolve_detections(pcb, (detection(class_id=7, class_name=name),))
    assert (d.class_name, d.class_id) == expected
    assert current_name(pcb, name) == expected[0]
    with pytest.raises(UnknownClassError, match=r"detections\[0\]: 'crack' is not a class of product pcb"):
        resolve_detections(pcb, (detection(class_name="crack"),))


@pytest.mark.parametrize("product", [None, "", "ghost", "../etc", ".hidden", "x" * 80])
def test_frames_without_a_class_map(tmp_path: Path, product: str | None) -> None:
    assert class_map(ProductCatalog(tmp_path), product) is None
    assert "free" in no_class_map_note(product)


BLOCKER = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'training':
            raise ImportError(f'the API must not import {name}')
        return None

sys.meta_path.insert(0, Block())
import pkgutil, importlib, api
mods = [m.name for m in pkgutil.walk_packages(api.__path__, 'api.')]
for m in mods:
    importlib.import_module(m)
print(len(mods))
"""


def test_api_never_imports_training() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.strip()) >= 30
