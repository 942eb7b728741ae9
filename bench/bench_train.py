"""Training benchmarks: throughput (images/s) on simulator frames; NEU-DET from scratch when available.

python bench/bench_train.py throughput [--frames 64 --epochs 2 --imgsz 320]
python bench/bench_train.py neu [--recipe cpu_fast --epochs 24 --imgsz 224]   # needs ../shared/datasets
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

NEU = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "neu-det"


def _voc_to_yolo(images: Path, annotations: Path, out: Path, split: str, names: list[str]) -> int:
    (out / "images" / split).mkdir(parents=True, exist_ok=True)
    (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    n = 0
    for xml in sorted(annotations.glob("*.xml")):
        root = ET.parse(xml).getroot()
        img = images / (root.findtext("filename") or f"{xml.stem}.jpg")
        if not img.suffix:
            img = img.with_suffix(".jpg")
        if not img.is_file():
            img = images / f"{xml.stem}.jpg"
        w, h = float(root.findtext("size/width") or 200), float(root.findtext("size/height") or 200)
        lines = []
        for obj in root.iter("object"):
            name = obj.findtext("name", "").strip()
            if name not in names:
                names.append(name)
            b = obj.find("bndbox")
            assert b is not None
            x1, y1, x2, y2 = (float(b.findtext(k, "0")) for k in ("xmin", "ymin", "xmax", "ymax"))
            lines.append(
                f"{names.index(name)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n"
            )
        (out / "images" / split / img.name).symlink_to(img.resolve())
        (out / "labels" / split / f"{img.stem}.txt").write_text("".join(lines))
        n += 1
    return n


def neu(epochs: int | None, imgsz: int | None, batch: int, recipe_name: str) -> dict[str, object]:
    """Train the recipe's model from scratch on NEU-DET's training images; mAP on its validation images."""
    import os
    import resource

    from training.yolo.recipes import get_recipe, train_scratch
    from training.yolo.train import cpu_threads

    recipe = get_recipe(recipe_name)
    epochs, imgsz = epochs or recipe.epochs, imgsz or recipe.imgsz
    with tempfile.TemporaryDirectory() as tmp:
        out, names = Path(tmp) / "neu", list[str]()
        n_train = _voc_to_yolo(NEU / "IMAGES", NEU / "ANNOTATIONS", out, "train", names)
        n_val = _voc_to_yolo(NEU / "Validation_Images", NEU / "Validation_Annotations", out, "val", names)
        (out / "data.yaml").write_text(
            json.dumps(
                {
                    "path": str(out),
                    "train": "images/train",
                    "val": "images/val",
                    "names": dict(enumerate(names)),
                }
            )
        )
        load = os.getloadavg()[0]
        started, cpu0 = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
        r = train_scratch(
            out / "data.yaml", Path(tmp) / "runs", recipe, epochs=epochs, imgsz=imgsz, batch=batch
        )
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "recipe": recipe.name,
            "model": Path(recipe.model).name,
            "train_images": n_train,
            "val_images": n_val,
            "classes": names,
            "epochs": epochs,
            "imgsz": imgsz,
            "torch_threads": cpu_threads(),
            "mAP50": round(r.metrics["mAP50"], 4),
            "mAP50-95": round(r.metrics["mAP50-95"], 4),
            "wall_s": round(time.monotonic() - started, 1),
            "cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1),
            "images_per_s": round(r.images_per_s, 1),
            "load_avg_1m_at_start": round(load, 2),
            "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        }


def throughput(frames: int, epochs: int, imgsz: int, batch: int) -> dict[str, object]:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.models import write_sim_dataset
    from training.yolo import train_yolo

    with tempfile.TemporaryDirectory() as tmp:
        data = write_sim_dataset(Path(tmp) / "data", range(frames), range(5000, 5000 + max(4, frames // 8)))
        r = train_yolo(data, Path(tmp) / "runs", epochs=epochs, imgsz=imgsz, batch=batch, val=False)
        return {
            "frames": frames,
            "epochs": epochs,
            "imgsz": imgsz,
            "batch": batch,
            "device": "auto",
            "wall_s": round(r.wall_s, 1),
            "images_per_s": round(r.images_per_s, 1),
        }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["throughput", "neu"])
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--epochs", type=int, default=None, help="default: 2 (throughput), the recipe's (neu)")
    p.add_argument("--imgsz", type=int, default=None, help="default: 320 (throughput), the recipe's (neu)")
    p.add_argument("--recipe", default="cpu_fast", help="neu: training recipe (training.yolo.recipes)")
    p.add_argument("--batch", type=int, default=16)
    a = p.parse_args()
    if a.what == "neu" and not NEU.is_dir():
        raise SystemExit(f"{NEU} not found")
    res = (
        throughput(a.frames, a.epochs or 2, a.imgsz or 320, a.batch)
        if a.what == "throughput"
        else neu(a.epochs, a.imgsz, a.batch, a.recipe)
    )
    print(json.dumps(res))


if __name__ == "__main__":
    main()
