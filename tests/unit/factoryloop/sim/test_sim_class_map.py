"""The line's class map comes from its config: custom classes, painters, drift names, the tile line preset."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from factoryloop.products import ProductCatalog
from factoryloop.sim import (
    DEFECT_CLASSES,
    PAINTER_NAMES,
    PRESETS,
    TILE_CLASSES,
    TILE_SIM,
    ClassRateDrift,
    SimConfig,
    SimError,
    Simulator,
    ensure_simulated_product,
    load_config,
    parse_config,
    write_yolo_dataset,
)
from factoryloop.sim.cli import app
from factoryloop.sim.painters import PAINTERS
from factoryloop.sim.presets import DEMO_SIM, demo_drift_config

SMALL = {"width": 320, "height": 240}
ALL_ON = {name: {"rate": 0.6, "max_count": 2} for name in DEFECT_CLASSES}


def _digest(sim: Simulator, indices: range) -> str:
    h = hashlib.sha256()
    for i in indices:
        f = sim.frame(i)
        h.update(f.image.tobytes())
        h.update(repr([(b.class_id, b.class_name, b.x1, b.y1, b.x2, b.y2) for b in f.boxes]).encode())
        for b in f.boxes:
            h.update(b.mask.tobytes())
        h.update(repr((f.index, f.timestamp_s, f.product, f.drift)).encode())
    return h.hexdigest()[:16]


def _small(**overrides: Any) -> SimConfig:
    return SimConfig.model_validate({"camera": SMALL, **overrides})


_MIXED_DRIFT = [
    {"type": "product_change", "at_frame": 2, "product": "ceramic_tile"},
    {"type": "rate_spike", "at_frame": 4, "factor": 2.0, "class_names": ["dent", "crack"]},
    {"type": "class_rate", "at_frame": 5, "class_name": "stain", "rate": 0.0},
]

# Digests of frames 0-7 computed with the simulator BEFORE the class map moved into the config (fixed
# DEFECT_CLASSES); the default line and the demo must stay byte-identical (images, boxes, masks, names).
REFERENCE = [
    ("default-0", lambda: SimConfig(), 0, "55a26e6dc074f9e6"),
    ("default-5", lambda: SimConfig(), 5, "65205c5788670c47"),
    ("demo-7", lambda: DEMO_SIM, 7, "baaab85924f70ad7"),
    ("demo-11", lambda: DEMO_SIM, 11, "9a46b748f8309d36"),
    ("demo-drift-11", lambda: demo_drift_config(at_frame=3), 11, "581857c5074cb468"),
    ("small-all-on-3", lambda: _small(defects=ALL_ON), 3, "dcdefccab9d8fa24"),
    ("small-mixed-drift-2", lambda: _small(defects=ALL_ON, drift=_MIXED_DRIFT), 2, "8e80632bc4592089"),
]


@pytest.mark.parametrize(
    ("config", "seed", "expected"), [r[1:] for r in REFERENCE], ids=[r[0] for r in REFERENCE]
)
def test_default_and_demo_frames_unchanged(config, seed: int, expected: str) -> None:
    assert _digest(Simulator(config(), seed=seed), range(8)) == expected


def test_painter_registry_matches_config_names() -> None:
    assert tuple(PAINTERS) == PAINTER_NAMES
    assert SimConfig().class_names == DEFECT_CLASSES


CUSTOM = {
    "classes": ["blob", "line", "dot"],
    "defects": {
        "blob": {"painter": "stain", "rate": 1.0},
        "line": {"painter": "scratch", "rate": 1.0},
        "dot": {"painter": "pinhole", "rate": 1.0, "size": [0.03, 0.04]},
    },
}


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        (CUSTOM, ("blob", "line", "dot")),
        ({**CUSTOM, "classes": ["dot", "line", "blob"]}, ("dot", "line", "blob")),  # ids follow `classes`
        ({"classes": ["dent", "scratch"], "defects": {"dent": {"rate": 1.0}}}, ("dent", "scratch")),
    ],
)
def test_custom_class_map_names_and_ids(overrides, names, tmp_path) -> None:
    sim = Simulator(_small(**overrides), seed=1)
    assert sim.config.class_names == names
    seen = set()
    for frame in sim.frames(0, 6):
        for b in frame.boxes:
            assert names[b.class_id] == b.class_name
            seen.add(b.class_name)
    configured = {n for n in names if n in overrides["defects"]}
    assert seen == configured
    data = write_yolo_dataset(sim, tmp_path / "ds", count=2, val_every=0)
    assert f"0: {names[0]}" in data.read_text()


_UNKNOWN = [
    ({"classes": ["blob"], "defects": {"blob": {"rate": 0.5}}}, "'blob' has no painter"),
    ({"classes": ["blob"], "defects": {"blob": {"painter": "splash"}}}, "splash"),
    ({"defects": {"chip": {"painter": "chip"}}}, "'chip', not in the class map"),
    ({"drift": [{"type": "class_rate", "at_frame": 1, "class_name": "chip", "rate": 1}]}, "'chip'"),
    ({"drift": [{"type": "rate_spike", "at_frame": 1, "class_names": ["dent", "bubble"]}]}, "'bubble'"),
    ({"classes": ["dent", "dent"]}, "repeated"),
    ({"classes": ["a,b"], "defects": {}}, "classes"),
    ({"defects": {"dent": {"line_px": 2}}}, "line_px applies to the line painters"),
]


@pytest.mark.parametrize(("overrides", "named"), _UNKNOWN)
def test_unknown_painter_or_class_is_a_config_error_naming_it(overrides, named, tmp_path) -> None:
    with pytest.raises(ValidationError, match=named):
        SimConfig.model_validate(overrides)
    with pytest.raises(SimError, match=named):
        parse_config(overrides)
    bad = tmp_path / "line.yaml"
    bad.write_text(yaml.safe_dump(overrides))
    with pytest.raises(SimError, match=rf"line\.yaml(.|\n)*{named}"):
        load_config(bad)


def test_drift_added_without_validation_is_a_sim_error_naming_the_class() -> None:
    cfg = TILE_SIM.model_copy(update={"drift": (ClassRateDrift(class_name="crack", at_frame=0, rate=1.0),)})
    with pytest.raises(SimError, match=r"'crack'.*chip, glaze_bubble, hairline, pinhole"):
        Simulator(cfg)


def _changed(sim: Simulator, i: int):
    frame, clean = sim.frame(i), sim.frame(i, defects=False)
    return frame, np.abs(frame.image.astype(np.int16) - clean.image.astype(np.int16)).max(axis=2)


@pytest.mark.parametrize("seed", [13, 21])
def test_tile_line_renders_its_classes_with_boxes_inside_the_frame(seed: int) -> None:
    sim = Simulator(TILE_SIM, seed=seed)
    assert PRESETS["tile_line"] is TILE_SIM and sim.config.class_names == TILE_CLASSES
    seen: set[str] = set()
    for i in range(24):
        frame, diff = _changed(sim, i)
        covered = np.zeros(diff.shape, bool)
        assert frame.image.shape == (240, 320, 3) and frame.product == "glazed_tile"
        for b in frame.boxes:
            seen.add(b.class_name)
            assert TILE_CLASSES[b.class_id] == b.class_name
            assert 0 <= b.x1 < b.x2 <= 320 and 0 <= b.y1 < b.y2 <= 240
            assert (b.x2 - b.x1) * (b.y2 - b.y1) >= 25  # big enough for a tiny detector
            covered[max(0, b.y1 - 1) : b.y2 + 1, max(0, b.x1 - 1) : b.x2 + 1] = True
            assert (diff[b.y1 : b.y2, b.x1 : b.x2][b.mask] > 0).mean() > 0.6
        assert not (diff[~covered] > 0).any(), f"frame {i}: changed pixels outside every box"
    assert seen == set(TILE_CLASSES)


def test_tile_classes_look_different() -> None:
    """Bubble brighter than the tile, pinhole and chip darker; chips touch the tile's outline."""
    sim = Simulator(TILE_SIM)
    sign: dict[str, list[float]] = {c: [] for c in TILE_CLASSES}
    for i in range(40):
        frame, clean = sim.frame(i), sim.frame(i, defects=False)
        for b in frame.boxes:
            d = frame.image[b.y1 : b.y2, b.x1 : b.x2].astype(float) - clean.image[b.y1 : b.y2, b.x1 : b.x2]
            sign[b.class_name].append(float(d[b.mask].mean()))
    assert min(sign["glaze_bubble"]) > 10
    assert max(sign["pinhole"]) < -40 and max(sign["chip"]) < -40 and max(sign["hairline"]) < -10


def test_ensure_simulated_product_uses_the_line_class_map(tmp_path) -> None:
    catalog = ProductCatalog(tmp_path / "products")
    plate = ensure_simulated_product(catalog, "demo_plate")
    tile = ensure_simulated_product(catalog, "demo_tile", TILE_SIM)
    assert plate.class_names == DEFECT_CLASSES and tile.class_names == TILE_CLASSES
    assert ensure_simulated_product(catalog, "demo_tile", TILE_SIM) == tile
    with pytest.raises(SimError, match="demo_plate has no class chip, glaze_bubble, hairline, pinhole"):
        ensure_simulated_product(catalog, "demo_plate", TILE_SIM)


@pytest.mark.parametrize(
    ("args", "code", "expect"),
    [
        (["dataset", "{out}", "-n", "3", "--preset", "tile_line"], 0, "0: chip"),
        (["dataset", "{out}", "-n", "3", "--preset", "demo"], 0, "3: crack"),
        (["show-config", "--preset", "tile_line"], 0, "painter: bubble"),
        (["frames", "{out}", "--preset", "nope"], 2, "unknown simulator preset 'nope'"),
    ],
)
def test_cli_presets_write_their_class_map(tmp_path, args, code, expect) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(app, [a.format(out=out) for a in args])
    assert res.exit_code == code, res.output
    text = (out / "data.yaml").read_text() if args[0] == "dataset" else res.output
    assert expect in text
