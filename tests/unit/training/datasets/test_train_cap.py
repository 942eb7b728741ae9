"""The train split of a version is bounded (``max_train``): rare classes kept, the rest a seeded draw."""

from __future__ import annotations

import pytest

from factoryloop.sim import SimConfig, Simulator, encode_jpeg
from factoryloop.sim.classes import DEFECT_CLASSES
from training.datasets import Box, DatasetError, DatasetStore
from training.datasets.types import LabelSet, Provenance
from training.datasets.versions import cap_train_split


@pytest.fixture
def make_labelled(tmp_path):
    """Factory: a store of ``n`` frames; frame i is labelled ``classes(i)`` (a list of class names)."""

    def make(n: int, classes) -> DatasetStore:
        store = DatasetStore(tmp_path / f"s{n}")
        sim = Simulator(SimConfig.model_validate({"camera": {"width": 320, "height": 240}}), seed=3)
        for i, f in enumerate(sim.frames(0, n)):
            h = store.add_image(encode_jpeg(f), source="sim", product="plate")
            boxes = [Box(c, 1 + j, 1, 10 + j, 9) for j, c in enumerate(classes(i))]
            store.set_labels(h, boxes, provenance="simulated", source_ref=f"frame:{i}")
        return store

    return make


def _train(version) -> list[dict]:
    return [i for i in version.images if i["split"] == "train"]


@pytest.mark.parametrize(("n", "cap", "expect_train"), [(40, 100, None), (120, 30, 30), (120, 1, 1)])
def test_train_split_is_capped_and_val_kept(make_labelled, n, cap, expect_train) -> None:
    store = make_labelled(n, lambda i: ["dent"])
    whole = store.freeze_version("all", test_fraction=0.2)
    capped = store.freeze_version("capped", test_fraction=0.2, max_train=cap)
    assert len(_train(capped)) == (expect_train or len(_train(whole)))
    val = {i["hash"] for i in whole.images if i["split"] == "val"}
    assert {i["hash"] for i in capped.images if i["split"] == "val"} == val
    assert capped.manifest["selection"]["max_train"] == cap


def test_rare_class_images_are_never_sampled_away(make_labelled) -> None:
    # 200 frames, a crack on every 25th (8 of them): the cap of 40 keeps every crack frame.
    store = make_labelled(200, lambda i: ["crack"] if i % 25 == 0 else ["dent"])
    whole = store.freeze_version("all", test_fraction=0.2, class_names=DEFECT_CLASSES)
    capped = store.freeze_version("capped", test_fraction=0.2, max_train=40, class_names=DEFECT_CLASSES)
    cracks = {i["hash"] for i in _train(whole) if any(b[0] == 3 for b in i["boxes"])}
    assert cracks and cracks <= {i["hash"] for i in _train(capped)}
    assert len(_train(capped)) == 40


def test_the_draw_is_reproducible_and_depends_on_the_seed(make_labelled) -> None:
    store = make_labelled(100, lambda i: ["dent"])
    records = store.images()
    labels = store.all_effective_labels()
    a = cap_train_split(records, labels, 0.2, 20, seed="v1")
    b = cap_train_split(list(reversed(records)), labels, 0.2, 20, seed="v1")
    c = cap_train_split(records, labels, 0.2, 20, seed="v2")
    assert {r.hash for r in a} == {r.hash for r in b}
    assert {r.hash for r in a} != {r.hash for r in c}


def test_a_cap_below_one_is_refused(make_labelled) -> None:
    store = make_labelled(4, lambda i: [])
    labels = {r.hash: LabelSet(r.hash, (), Provenance.SIMULATED, "x", 0.0) for r in store.images()}
    with pytest.raises(DatasetError, match="at least 1"):
        cap_train_split(store.images(), labels, 0.2, 0, seed="v")
