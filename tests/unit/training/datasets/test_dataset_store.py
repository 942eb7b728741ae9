from __future__ import annotations

import pytest
import yaml

from factoryloop.sim import SimConfig, Simulator, encode_jpeg
from factoryloop.sim.classes import DEFECT_CLASSES
from training.datasets import Box, DatasetError, DatasetStore, VersionNotFoundError, default_root, split_of


@pytest.fixture
def make_store(tmp_path):
    """Factory: a store holding ``n`` simulator frames labelled as simulated ground truth."""

    def make(name: str = "s", n: int = 8) -> tuple[DatasetStore, list[str]]:
        store = DatasetStore(tmp_path / name)
        sim = Simulator(SimConfig.model_validate({"camera": {"width": 320, "height": 240}}), seed=2)
        hashes = []
        for f in sim.frames(0, n):
            h = store.add_image(encode_jpeg(f), source="sim", product="plate")
            boxes = [Box(b.class_name, b.x1, b.y1, b.x2, b.y2) for b in f.boxes]
            store.set_labels(h, boxes, provenance="simulated", source_ref=f"frame:{f.index}")
            hashes.append(h)
        return store, hashes

    return make


def test_images_are_content_addressed(make_store) -> None:
    store, hashes = make_store(n=2)
    data = store.image_path(hashes[0]).read_bytes()
    assert store.add_image(data, source="again") == hashes[0]
    assert len(store.images()) == 2
    assert store.image_path(hashes[0]).parent.name == hashes[0][:2]
    with pytest.raises(DatasetError):
        store.add_image(b"not a jpeg", source="x")


def test_human_labels_win_over_predictions(make_store) -> None:
    store, hashes = make_store(n=1)
    h = hashes[0]
    store.set_labels(h, [Box("dent", 1, 1, 5, 5)], provenance="prediction", source_ref="evt-1")
    store.set_labels(h, [], provenance="human", source_ref="review-1")
    store.set_labels(h, [Box("crack", 1, 1, 9, 9)], provenance="prediction", source_ref="evt-2")
    eff = store.effective_labels(h)
    assert eff is not None and eff.provenance == "human" and eff.boxes == () and eff.source_ref == "review-1"
    assert len(store.label_history(h)) == 4
    with pytest.raises(DatasetError, match="outside"):
        store.set_labels(h, [Box("dent", 1000, 1, 5000, 5)], provenance="human", source_ref="bad")
    store.set_labels(h, [Box("dent", 300, 1, 5000, 5)], provenance="human", source_ref="clipped")
    eff = store.effective_labels(h)
    assert eff is not None and eff.boxes == (Box("dent", 300, 1, 320, 5),)


def test_manifest_hash_stable_and_splits_never_move(make_store, tmp_path) -> None:
    a, hashes = make_store("a", n=8)
    b, _ = make_store("b", n=8)
    va, vb = a.freeze_version("v1", test_fraction=0.3), b.freeze_version("v1", test_fraction=0.3)
    assert va.sha256 == vb.sha256 and len(va.images) == 8
    assert {i["hash"]: i["split"] for i in va.images} == {h: split_of(h, 0.3) for h in hashes}
    c, _ = make_store("c", n=14)
    vc = c.freeze_version("v2", test_fraction=0.3)
    splits = {i["hash"]: i["split"] for i in vc.images}
    assert all(splits[i["hash"]] == i["split"] for i in va.images)
    assert a.get_version(va.sha256[:12]) == va
    with pytest.raises(DatasetError, match="immutable"):
        a.freeze_version("v1")
    with pytest.raises(VersionNotFoundError):
        a.get_version("nope")


def test_export_yolo(make_store, tmp_path) -> None:
    store, _ = make_store(n=6)
    v = store.freeze_version("v", test_fraction=0.5, class_names=DEFECT_CLASSES)
    data_yaml = store.export_yolo(v, tmp_path / "out")
    data = yaml.safe_load(data_yaml.read_text())
    assert data["path"] == str((tmp_path / "out").resolve()) and data["names"][0] == "scratch"
    for img in v.images:
        label = tmp_path / "out" / "labels" / img["split"] / f"{img['hash']}.txt"
        assert (tmp_path / "out" / "images" / img["split"] / f"{img['hash']}.jpg").is_file()
        lines = [ln.split() for ln in label.read_text().splitlines()]
        assert len(lines) == len(img["boxes"])
        assert all(0 <= float(x) <= 1 for ln in lines for x in ln[1:])
    st = store.stats(v)
    assert st.labelled == 6 and sum(st.per_split.values()) == 6


def test_default_root_follows_env(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("FACTORYLOOP_DATASETS", raising=False)
    monkeypatch.setenv("FACTORYLOOP_HOME", str(tmp_path))
    assert default_root() == tmp_path / "datasets"
