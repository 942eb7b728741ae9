"""GET /products and /products/{name}: the product catalog's class maps, readable by every role."""

from __future__ import annotations

import pytest

from api.security import Role
from factoryloop.products import ProductCatalog
from tests.integration.api.products import make_pcb


@pytest.mark.parametrize("role", list(Role))
def test_products_list_and_detail(api_factory, role: Role) -> None:
    api = api_factory(None)
    assert api.get("/api/v1/products", role=role).json() == []
    make_pcb(api.settings.products_dir)
    ProductCatalog(api.settings.products_dir).create("steel", ["crazing", "inclusion"])

    listed = api.get("/api/v1/products", role=role)
    assert listed.status_code == 200, listed.text
    assert [p["name"] for p in listed.json()] == ["pcb", "steel"]
    pcb = listed.json()[0]
    assert pcb["description"] == "printed circuit boards"
    assert pcb["classes"] == [
        {"id": 0, "name": "scratch", "active": True, "former_names": [], "merged_into": None},
        {"id": 1, "name": "dent_deep", "active": True, "former_names": ["dent"], "merged_into": None},
        {"id": 2, "name": "pit", "active": True, "former_names": [], "merged_into": None},
        {"id": 3, "name": "hole", "active": False, "former_names": [], "merged_into": 2},
    ]
    assert pcb["active_class_names"] == ["scratch", "dent_deep", "pit"]

    detail = api.get("/api/v1/products/pcb", role=role).json()
    assert detail["classes"] == pcb["classes"]
    assert [h["action"] for h in detail["history"]] == ["create", "rename_class", "merge_class"]


def test_unknown_product_is_404_naming_the_known_ones(api_factory) -> None:
    api = api_factory(None)
    make_pcb(api.settings.products_dir)
    resp = api.get("/api/v1/products/widget")
    assert resp.status_code == 404
    err = resp.json()["error"]
    assert err["code"] == "not_found"
    assert "no product 'widget' (known: pcb)" in err["message"]
    assert "factoryloop product create widget" in err["message"]
    assert api.get("/api/v1/products/.hidden").status_code == 422  # not a product name


def test_a_damaged_record_is_named(api_factory) -> None:
    api = api_factory(None)
    api.settings.products_dir.mkdir(parents=True)
    (api.settings.products_dir / "bad.json").write_text("{not json")
    resp = api.get("/api/v1/products")
    assert resp.status_code == 500
    assert resp.json()["error"]["code"] == "product_catalog_error"
    assert "bad.json: not a valid product record" in resp.json()["error"]["message"]
