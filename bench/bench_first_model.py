"""A first model from the user's own data under a time budget, measured on NEU-DET (real steel defects).

python bench/bench_first_model.py [--budget 30m] [--recipe cpu_fast --recipe cpu_first_model] [--json f]
python bench/bench_first_model.py --budget 5m --recipe cpu_fast --recipe "cpu_first_model:mosaic=0.5,lr0=0.01"

1. imports ../shared/datasets/neu-det with the project's VOC importer (``get_importer("voc")``);
2. splits the 1,800 images 80/20 by a fixed seed, stratified by each image's first class (the 20 % is
   held out: never trained on, and no weights are chosen on it);
3. writes YOLO folders (symlinks to the images, labels from the importer's boxes) under a temporary folder;
4. trains each ``--recipe`` in turn from scratch under the same ``--budget`` (``train_yolo(time_budget_s)``;
   ``NAME:key=value,...`` changes a recipe's arguments), imgsz from the data when the recipe says "auto";
5. evaluates best.pt on the held-out 20 % (Ultralytics' validator, ``training.yolo.evaluate``): mAP50 and
   mAP50-95 overall and per class; ratios against the first recipe (the baseline) of the same run.

The load average is printed at each start and end: other jobs share the 2-core box. Nothing is copied into
the repository (NOTICE.md of the datasets: evaluation only).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NEU = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "neu-det"
SEED = 0
HELD_FRACTION = 0.2


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def parse_budget(text: str) -> float:
    """``30m``, ``90s``, ``1h``, ``1800`` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_recipe(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``name`` or ``name:key=value,key=value`` -> (label, recipe name, changes)."""
    name, _, rest = spec.partition(":")
    changes = {k.strip(): _value(v.strip()) for k, v in (kv.split("=", 1) for kv in rest.split(",") if kv)}
    return spec, name, changes


def prepare(out: Path, seed: int = SEED, held_fraction: float = HELD_FRACTION) -> dict[str, Any]:
    """NEU-DET as YOLO folders: train = 80 %, val = the held-out 20 % (fixed seed, stratified)."""
    from training.datasets import get_importer

    plan = get_importer("voc")(NEU)
    names = list(plan.class_names)
    by_class: dict[str, list[Any]] = {}
    for image in sorted(plan.images, key=lambda i: str(i.path)):
        by_class.setdefault(image.boxes[0].class_name if image.boxes else "", []).append(image)
    rng = random.Random(seed)
    split: dict[str, list[Any]] = {"train": [], "val": []}
    for cls in sorted(by_class):
        images = by_class[cls]
        rng.shuffle(images)
        n_held = round(len(images) * held_fraction)
        split["val"] += images[:n_held]
        split["train"] += images[n_held:]
    for part, images in split.items():
        (out / "images" / part).mkdir(parents=True, exist_ok=True)
        (out / "labels" / part).mkdir(parents=True, exist_ok=True)
        for image in images:
            stem = f"{Path(image.path).parent.name}_{Path(image.path).stem}"
            (out / "images" / part / f"{stem}{Path(image.path).suffix}").symlink_to(
                Path(image.path).resolve()
            )
            w, h = image.width, image.height
            lines = [
                f"{names.index(b.class_name)} {(b.x1 + b.x2) / 2 / w:.6f} {(b.y1 + b.y2) / 2 / h:.6f} "
                f"{(b.x2 - b.x1) / w:.6f} {(b.y2 - b.y1) / h:.6f}\n"
                for b in image.boxes
            ]
            (out / "labels" / part / f"{stem}.txt").write_text("".join(lines))
    (out / "data.yaml").write_text(
        json.dumps(
            {"path": str(out), "train": "images/train", "val": "images/val", "names": dict(enumerate(names))}
        )
    )
    return {
        "images": len(plan.images),
        "train_images": len(split["train"]),
        "held_out_images": len(split["val"]),
        "held_out_boxes": sum(len(i.boxes) for i in split["val"]),
        "classes": names,
    }


def train_one(
    data_yaml: Path, out: Path, recipe_name: str, changes: dict[str, Any], budget_s: float
) -> dict[str, Any]:
    import cv2

    from training.yolo.evaluate import evaluate
    from training.yolo.export import export_onnx, verify_onnx_parity
    from training.yolo.recipes import get_recipe, train_scratch
    from training.yolo.train import cpu_threads

    recipe = get_recipe(recipe_name)
    rows: list[dict[str, Any]] = []

    def progress(p: Any) -> None:
        rows.append(
            {
                "epoch": p.epoch,
                "epochs": p.epochs,
                "elapsed_s": round(p.elapsed_s, 1),
                "eta_s": round(p.eta_s, 1),
            }
        )
        print(
            f"  epoch {p.epoch}/{p.epochs} elapsed {p.elapsed_s:.0f}s eta {p.eta_s:.0f}s {dict(p.metrics)}",
            flush=True,
        )

    load0, threads = os.getloadavg()[0], cpu_threads()
    started, cpu0 = time.monotonic(), _cpu_s()
    result = train_scratch(data_yaml, out, recipe, time_budget_s=budget_s, progress=progress, **changes)
    wall, cpu = time.monotonic() - started, _cpu_s() - cpu0
    load1 = os.getloadavg()[0]
    ev = evaluate(result.best_pt, data_yaml, imgsz=result.imgsz, device="cpu")
    export_s = time.monotonic()
    images = [cv2.imread(str(p)) for p in sorted((data_yaml.parent / "images" / "val").iterdir())[:4]]
    exported = export_onnx(result.best_pt, result.imgsz, out / "model.onnx")
    verify_onnx_parity(result.best_pt, exported.path, images, result.imgsz)
    export_s = time.monotonic() - export_s
    return {
        "recipe": recipe.name,
        "changes": changes,
        "imgsz": result.imgsz,
        "budget_s": budget_s,
        "train_wall_s": round(wall, 1),
        "train_cpu_s": round(cpu, 1),  # user + sys of this process: what the load left to the training
        "export_s": round(export_s, 1),  # ONNX export + parity check (the pipeline's next steps; no INT8)
        "epochs": len(result.epochs),
        "images_per_s": round(result.images_per_s, 1),
        "torch_threads_at_start": threads,
        "load_avg_1m": [round(load0, 2), round(load1, 2)],
        "mAP50": round(ev.metrics["mAP50"], 4),
        "mAP50-95": round(ev.metrics["mAP50-95"], 4),
        "per_class": {
            c: {"ap50": round(m.ap50, 3), "ap50_95": round(m.ap50_95, 3)} for c, m in ev.per_class.items()
        },
        "curve": [
            {k: round(v, 4) for k, v in r.items() if k in ("epoch", "mAP50", "mAP50-95", "train_box_loss")}
            for r in result.epochs
        ],
        "progress": rows,
    }


def run(budget_s: float, recipes: list[str], seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {"budget_s": budget_s, "seed": seed, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-first-model-") as tmp:
        root = Path(tmp)
        out["dataset"] = prepare(root / "neu", seed)
        runs = []
        for i, spec in enumerate(recipes):
            label, name, changes = parse_recipe(spec)
            print(f"[{time.strftime('%H:%M:%S')}] {label}: load {os.getloadavg()[0]:.2f}", flush=True)
            runs.append(
                {
                    "label": label,
                    **train_one(root / "neu" / "data.yaml", root / f"runs{i}", name, changes, budget_s),
                }
            )
            print(
                json.dumps({k: v for k, v in runs[-1].items() if k not in ("curve", "progress")}), flush=True
            )
        out["runs"] = runs
    base = out["runs"][0]
    out["ratios_vs_" + base["label"]] = {
        r["label"]: {
            "mAP50": round(r["mAP50"] / max(base["mAP50"], 1e-9), 3),
            "mAP50-95": round(r["mAP50-95"] / max(base["mAP50-95"], 1e-9), 3),
            "train_wall_s": round(r["train_wall_s"] / max(base["train_wall_s"], 1e-9), 3),
        }
        for r in out["runs"][1:]
    }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", default="30m", help="time budget of each training: 30m, 600s, 1h")
    p.add_argument("--recipe", action="append", help="NAME[:key=value,...]; the first is the baseline")
    p.add_argument("--seed", type=int, default=SEED, help="seed of the 80/20 split")
    p.add_argument("--json", type=Path, help="also write the result here")
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("training").setLevel(logging.INFO)
    if not NEU.is_dir():
        sys.exit(f"NEU-DET not found at {NEU} (../shared/datasets/neu-det)")
    result = run(parse_budget(a.budget), a.recipe or ["cpu_fast", "cpu_first_model"], a.seed)
    text = json.dumps(result, indent=2)
    print(text)
    if a.json:
        a.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
