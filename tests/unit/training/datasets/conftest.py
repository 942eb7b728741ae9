from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from factoryloop.sim import DEFECT_CLASSES, SimConfig, SimFrame, Simulator, encode_jpeg, write_yolo_dataset

Writer = Callable[[Path], tuple[Path, list[SimFrame]]]


def _sim(**defects: float) -> Simulator:
    rates = defects or dict.fromkeys(DEFECT_CLASSES, 0.5)
    cfg = SimConfig.model_validate(
        {"camera": {"width": 320, "height": 240}, "defects": {k: {"rate": v} for k, v in rates.items()}}
    )
    return Simulator(cfg, seed=11)


def write_yolo(root: Path, count: int = 6) -> tuple[Path, list[SimFrame]]:
    sim = _sim()
    write_yolo_dataset(sim, root, count=count, val_every=2)
    return root, list(sim.frames(0, count))


def write_voc(root: Path, count: int = 6) -> tuple[Path, list[SimFrame]]:
    sim = _sim()
    frames = list(sim.frames(0, count))
    (root / "JPEGImages").mkdir(parents=True)
    (root / "Annotations").mkdir()
    for f in frames:
        name = f"f{f.index}.jpg"
        (root / "JPEGImages" / name).write_bytes(encode_jpeg(f))
        objs = "".join(
            f"<object><name>{b.class_name}</name><bndbox><xmin>{b.x1 + 1}</xmin><ymin>{b.y1 + 1}</ymin>"
            f"<xmax>{b.x2}</xmax><ymax>{b.y2}</ymax></bndbox></object>"
            for b in f.boxes
        )
        size = "<size><width>320</width><height>240</height></size>"
        xml = f"<annotation><filename>{name}</filename>{size}{objs}</annotation>"
        (root / "Annotations" / f"f{f.index}.xml").write_text(xml)
    return root, frames


def write_coco(root: Path, count: int = 6) -> tuple[Path, list[SimFrame]]:
    sim = _sim()
    frames = list(sim.frames(0, count))
    (root / "images").mkdir(parents=True)
    doc: dict = {
        "images": [],
        "annotations": [],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(DEFECT_CLASSES)],
    }
    for f in frames:
        (root / "images" / f"f{f.index}.jpg").write_bytes(encode_jpeg(f))
        doc["images"].append({"id": f.index, "file_name": f"f{f.index}.jpg", "width": 320, "height": 240})
        for b in f.boxes:
            doc["annotations"].append(
                {
                    "id": len(doc["annotations"]),
                    "image_id": f.index,
                    "category_id": b.class_id + 1,
                    "bbox": [b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1],
                    "iscrowd": 0,
                }
            )
    (root / "instances.json").write_text(json.dumps(doc))
    return root, frames


def write_masks(root: Path, count: int = 6) -> tuple[Path, list[SimFrame]]:
    sim = _sim(dent=0.9)
    frames = list(sim.frames(0, count))
    (root / "MT_Dent" / "Imgs").mkdir(parents=True)
    for f in frames:
        (root / "MT_Dent" / "Imgs" / f"f{f.index}.jpg").write_bytes(encode_jpeg(f))
        cv2.imwrite(
            str(root / "MT_Dent" / "Imgs" / f"f{f.index}.png"), (f.label_mask() > 0).astype("uint8") * 255
        )
    return root, frames


WRITERS: dict[str, Writer] = {"yolo": write_yolo, "voc": write_voc, "coco": write_coco, "mask": write_masks}


@pytest.fixture
def make_source(tmp_path: Path) -> Callable[[str], tuple[Path, list[SimFrame]]]:
    """Factory: write a small simulator dataset in a format; returns (root, frames)."""

    def make(fmt: str) -> tuple[Path, list[SimFrame]]:
        return WRITERS[fmt](tmp_path / f"src-{fmt}")

    return make
