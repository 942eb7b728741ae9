"""Product records and their class maps: stable ids, recorded changes, clear refusals, nothing half-done."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryloop.products import (
    ClassMapConflictError,
    ClassMapError,
    ProductCatalog,
    ProductError,
    ProductNotFoundError,
    fit_classes,
    new_product,
    parse_class_map,
)


def pcb() -> object:
    return new_product("pcb", ["open", "short", "mousebite"], description="bare boards")


def test_new_product_ids_in_order() -> None:
    p = new_product("pcb", ["open", "short"])
    assert p.class_names == ("open", "short")
    assert [c.id for c in p.classes] == [0, 1]
    assert p.history[0].action == "create"


@pytest.mark.parametrize(
    ("classes", "needle"),
    [
        (["a", "a"], "repeated"),
        (["a,b"], "invalid class names 'a,b'"),
        (["x=y"], "invalid class names"),
        ([" padded"], "invalid class names"),
        ([], "at least 1"),
    ],
)
def test_new_product_refuses_bad_class_names(classes: list[str], needle: str) -> None:
    with pytest.raises(ClassMapError, match=needle):
        new_product("pcb", classes)


def test_add_rename_merge_keep_ids_and_record_history() -> None:
    p = new_product("pcb", ["open", "short", "spur"])
    p = p.with_classes_added(["copper"])
    assert p.class_id("copper") == 3
    p = p.with_class_renamed("short", "short_circuit")
    assert p.class_names == ("open", "short_circuit", "spur", "copper")
    assert p.resolve("short") == 1  # labels stored under the old name still count
    p = p.with_class_merged("spur", into="copper")
    assert p.class_names == ("open", "short_circuit", "spur", "copper")  # the slot stays
    assert p.active_class_names == ("open", "short_circuit", "copper")
    assert p.resolve("spur") == 3
    assert p.canonical("short") == "short_circuit"
    assert [h.action for h in p.history] == ["create", "add_class", "rename_class", "merge_class"]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda p: p.with_class_renamed("open", "short"), "already a class"),
        (lambda p: p.with_class_renamed("nope", "x"), "has no class 'nope'"),
        (lambda p: p.with_classes_added(["open"]), "already has classes open"),
        (lambda p: p.with_class_merged("open", into="open"), "into itself"),
        (lambda p: p.with_class_renamed("open", "o,p"), "invalid class names"),
    ],
)
def test_refused_changes(change, needle: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClassMapError, match=needle):
        change(new_product("pcb", ["open", "short"]))


def test_a_former_name_is_never_reused() -> None:
    p = new_product("pcb", ["open", "short"]).with_class_renamed("short", "bridge")
    with pytest.raises(ClassMapError, match="never reused"):
        p.with_classes_added(["short"])


def test_catalog_roundtrip_and_lock(tmp_path: Path) -> None:
    cat = ProductCatalog(tmp_path / "products")
    assert cat.products() == []
    cat.create("pcb", ["open", "short"], description="boards")
    with pytest.raises(ProductError, match="exists already"):
        cat.create("pcb", ["x"])
    cat.update("pcb", lambda p: p.with_classes_added(["spur"]))
    again = ProductCatalog(tmp_path / "products").get("pcb")
    assert again.class_names == ("open", "short", "spur")
    assert again.description == "boards"
    with pytest.raises(ProductNotFoundError, match="product create tile"):
        cat.get("tile")


def test_catalog_failed_change_writes_nothing(tmp_path: Path) -> None:
    cat = ProductCatalog(tmp_path)
    cat.create("pcb", ["open", "short"])
    before = (tmp_path / "pcb.json").read_bytes()
    with pytest.raises(ClassMapError):
        cat.update("pcb", lambda p: p.with_class_renamed("open", "short"))
    assert (tmp_path / "pcb.json").read_bytes() == before


def test_catalog_names_a_corrupt_record(tmp_path: Path) -> None:
    (tmp_path / "pcb.json").write_text("{not json")
    with pytest.raises(ProductError, match=r"pcb\.json: not a valid product record"):
        ProductCatalog(tmp_path).get("pcb")


@pytest.mark.parametrize(
    ("items", "expected"),
    [([], {}), (["a=b"], {"a": "b"}), (["a = b", "c=d"], {"a": "b", "c": "d"})],
)
def test_parse_class_map(items: list[str], expected: dict[str, str]) -> None:
    assert parse_class_map(items) == expected


@pytest.mark.parametrize("bad", [["a"], ["=b"], ["a="], ["a=b", "a=c"]])
def test_parse_class_map_refuses(bad: list[str]) -> None:
    with pytest.raises(ClassMapError):
        parse_class_map(bad)


def test_fit_creates_product_from_dataset_classes() -> None:
    fit = fit_classes("pcb", None, ["open", "short"], mapping={"short": "bridge"})
    assert fit.created and fit.product.class_names == ("open", "bridge")
    assert fit.names == {"open": "open", "short": "bridge"}


def test_fit_conflict_says_which_and_how() -> None:
    existing = new_product("pcb", ["open", "short"])
    with pytest.raises(ClassMapConflictError) as err:
        fit_classes("pcb", existing, ["open", "spur", "copper"])
    msg = str(err.value)
    assert "spur, copper" in msg and "--map" in msg and "--add-classes" in msg
    assert "[" not in msg  # the CLI prints through rich, which swallows square brackets


@pytest.mark.parametrize(
    ("mapping", "add", "classes", "names"),
    [
        ({"spur": "short"}, False, ("open", "short"), {"open": "open", "spur": "short"}),
        ({}, True, ("open", "short", "spur"), {"open": "open", "spur": "spur"}),
    ],
)
def test_fit_map_or_add(
    mapping: dict[str, str], add: bool, classes: tuple[str, ...], names: dict[str, str]
) -> None:
    fit = fit_classes(
        "pcb", new_product("pcb", ["open", "short"]), ["open", "spur"], mapping=mapping, add_classes=add
    )
    assert fit.product.class_names == classes
    assert dict(fit.names) == names


def test_fit_follows_renames() -> None:
    existing = new_product("pcb", ["open", "short"]).with_class_renamed("short", "bridge")
    fit = fit_classes("pcb", existing, ["short"])
    assert fit.names == {"short": "bridge"} and not fit.added


def test_fit_map_of_a_class_the_dataset_lacks() -> None:
    with pytest.raises(ClassMapError, match="not classes of the dataset"):
        fit_classes("pcb", None, ["open"], mapping={"nope": "x"})
