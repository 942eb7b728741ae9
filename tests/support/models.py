"""A tiny YOLO detector trained on simulator frames, built once and cached by a content key.

For edge-agent parity tests and the closed-loop test::

    model = tiny_model(tmp_home / "cache" / "test-models")   # TinyModel(pt, onnx, sha256, class_names, imgsz)
    frames = tiny_model_frames(4)                             # held-out simulator frames (BGR) + boxes

The model is the closed-loop demo's champion: recipe ``CPU_FAST`` (packaged ``fl-tiny.yaml`` from scratch) on
``DEMO_SIM`` frames, the demo line before the drift (no cracks). It detects scratch, dent, stain and
missing_hole (mAP50 ~0.6 on held-out frames, docs/benchmarks.md "Training") and never crack, which leaves the
fine-tune of the demo something to fix. Build: ~2-3 min on 2 idle cores, once per content key.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2

from factoryloop.sim.config import SimConfig
from factoryloop.sim.presets import DEMO_SIM
from factoryloop.sim.render import SimFrame, Simulator

if TYPE_CHECKING:
    from training.yolo.recipes import TrainRecipe

RECIPE_VERSION = 2  # 2: recipe CPU_FAST (fl-tiny.yaml, imgsz 224) on DEMO_SIM; 1: yolo11n, 64 frames, mAP50 0
TINY_RECIPE = "cpu_fast"
TINY_IMGSZ = 224
TINY_EPOCHS = 24
TINY_TRAIN_FRAMES = 256
TINY_VAL_FRAMES = 32
HELD_OUT_START = 10_000  # frames from here on were never trained or validated on

TINY_SIM: SimConfig = DEMO_SIM


@dataclass(frozen=True)
class TinyModel:
    pt: Path
    onnx: Path
    sha256: str  # of the ONNX file
    class_names: tuple[str, ...]
    imgsz: int


def _recipe() -> TrainRecipe:
    from training.yolo.recipes import get_recipe

    return get_recipe(TINY_RECIPE)


def _key() -> str:
    import torch
    import ultralytics

    material = json.dumps(
        {
            "recipe": [RECIPE_VERSION, _recipe().train_args(epochs=TINY_EPOCHS, imgsz=TINY_IMGSZ)],
            "sim": TINY_SIM.model_dump(mode="json"),
            "imgsz": TINY_IMGSZ,
            "epochs": TINY_EPOCHS,
            "frames": [TINY_TRAIN_FRAMES, TINY_VAL_FRAMES],
            "model_yaml": Path(_recipe().model).read_text(),
            "ultralytics": ultralytics.__version__,
            "torch": torch.__version__.split("+")[0],
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def tiny_model_frames(count: int, start: int = HELD_OUT_START) -> list[SimFrame]:
    """Held-out frames of the simulator the tiny model was trained on (BGR images + ground-truth boxes)."""
    return list(Simulator(TINY_SIM).frames(start, count))


def _yolo_line(class_id: int, xywh: tuple[float, float, float, float]) -> str:
    return f"{class_id} " + " ".join(f"{v:.6f}" for v in xywh) + "\n"


def write_sim_dataset(root: Path, train: range, val: range, config: SimConfig = TINY_SIM) -> Path:
    """Write a YOLO dataset directory of simulator frames; return its data.yaml."""
    sim = Simulator(config)
    for split, indices in (("train", train), ("val", val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in indices:
            frame = sim.frame(i)
            cv2.imwrite(str(root / "images" / split / f"{i:06d}.jpg"), frame.image)
            h, w = frame.image.shape[:2]
            lines = "".join(_yolo_line(b.class_id, b.yolo(w, h)) for b in frame.boxes)
            (root / "labels" / split / f"{i:06d}.txt").write_text(lines)
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(config.class_names))
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}")
    return data


def _build(target: Path) -> TinyModel:
    from training.yolo.export import export_onnx
    from training.yolo.recipes import train_scratch

    work = target.with_name(target.name + f".build{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    data = write_sim_dataset(work / "data", range(TINY_TRAIN_FRAMES), range(5000, 5000 + TINY_VAL_FRAMES))
    result = train_scratch(
        data, work / "runs", _recipe(), epochs=TINY_EPOCHS, imgsz=TINY_IMGSZ, seed=0, device="cpu"
    )
    out = work / "model"
    out.mkdir()
    shutil.copyfile(result.best_pt, out / "model.pt")
    exported = export_onnx(out / "model.pt", TINY_IMGSZ, out / "model.onnx")
    meta = {
        "sha256": exported.sha256,
        "class_names": list(exported.class_names),
        "imgsz": TINY_IMGSZ,
        "recipe": TINY_RECIPE,
        "metrics": result.metrics,
        "per_class_ap50": {c: m.ap50 for c, m in result.per_class.items()},
        "wall_s": result.wall_s,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    out.replace(target)
    shutil.rmtree(work, ignore_errors=True)
    return _load(target)


def _load(target: Path) -> TinyModel:
    meta = json.loads((target / "meta.json").read_text())
    return TinyModel(
        target / "model.pt",
        target / "model.onnx",
        meta["sha256"],
        tuple(meta["class_names"]),
        int(meta["imgsz"]),
    )


def tiny_model(cache_root: Path) -> TinyModel:
    """Build (once per content key, safe across processes) or load the cached tiny model."""
    cache_root = Path(cache_root)
    cache_root.mkdir(parents=True, exist_ok=True)
    target = cache_root / f"tiny-yolo-{_key()}"
    with (cache_root / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "meta.json").is_file():
            return _load(target)
        return _build(target)
