"""How many reviewed frames of a new class does the closed loop's fine-tune need? Measured offline.

python bench/bench_loop_data.py --cracks 40 100 [--repeat 1 3] [--epochs 10] [--freeze 10] [--reset-new-class]

Reproduces the data of the closed-loop demo (``factoryloop.sim.demo``, quick preset) without Kafka: the
champion is trained from scratch on the bootstrap frames (the line before the drift), then fine-tuned (recipe
``cpu_fast_finetune``) on the bootstrap frames plus the first live frames after the drift, labelled with the
truth, up to ``--cracks`` cracks (85 % trained on, like the hash split); ``--repeat k`` repeats the crack
frames k times (what repeat-factor sampling does); ``--epochs`` / ``--freeze N`` (the first N layers, the
backbone at 10) change the recipe; ``--reset-new-class`` starts from the champion with the crack's rows of the
classification outputs reset (bias at Ultralytics' prior, weights small random). Each model is scored on 80
later live frames: recall per class at conf 0.2 / IoU 0.3 (the agent keeps detections from 0.2 up). The
champion is cached in --work.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from factoryloop.sim import SimFrame, Simulator
from factoryloop.sim.classes import DEFECT_CLASSES
from factoryloop.sim.demo.line import live_sim_config
from factoryloop.sim.demo.presets import demo_options, demo_sim_config

Tagged = list[tuple[str, SimFrame]]


def reset_class_outputs(pt: Path, class_ids: list[int], out: Path) -> Path:
    """A copy of ``pt`` whose classification outputs for ``class_ids`` are as a fresh head's (prior bias)."""
    ckpt = torch.load(pt, map_location="cpu", weights_only=False)
    head = ckpt["model"].model[-1]
    for i, branch in enumerate(head.cv3):
        conv = branch[-1]
        with torch.no_grad():
            for c in class_ids:
                conv.bias[c] = math.log(5 / head.nc / (640 / float(head.stride[i])) ** 2)
                conv.weight[c].normal_(0, 0.01)
    torch.save(ckpt, out)
    return out


def write(root: Path, splits: dict[str, Tagged]) -> Path:
    for split, frames in splits.items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for tag, f in frames:
            cv2.imwrite(str(root / "images" / split / f"{tag}.jpg"), f.image)
            h, w = f.image.shape[:2]
            rows = [f"{b.class_id} " + " ".join(f"{v:.6f}" for v in b.yolo(w, h)) for b in f.boxes]
            (root / "labels" / split / f"{tag}.txt").write_text("".join(r + "\n" for r in rows))
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(DEFECT_CLASSES))
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}")
    return root / "data.yaml"


def main() -> None:
    from training.yolo.recall import detection_report, pt_detector
    from training.yolo.recipes import fine_tune, train_scratch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cracks", type=int, nargs="+", default=[40, 100])
    p.add_argument("--repeat", type=int, nargs="+", default=[1])
    p.add_argument("--work", type=Path, default=Path("/tmp/bench-loop-data"))
    p.add_argument("--epochs", type=int, help="fine-tune epochs (default: the recipe's)")
    p.add_argument("--freeze", type=int, default=0, help="freeze the first N layers (10: the backbone)")
    p.add_argument("--reset-new-class", action="store_true")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    opts = demo_options(quick=True)
    base = demo_sim_config()
    boot = Simulator(base.model_copy(update={"seed": opts.seed}))
    live = Simulator(live_sim_config(base, opts))
    n_boot = opts.bootstrap_frames
    cut = int(n_boot * 0.85)
    bootf: Tagged = [(f"b{i}", boot.frame(i)) for i in range(n_boot)]
    held = [live.frame(i) for i in range(opts.live_start + 300, opts.live_start + 380)]

    def score(pt: Path) -> dict[str, Any]:
        rep = detection_report(
            pt_detector(pt, 224, conf=0.2),
            [(f.image, f.boxes) for f in held],
            DEFECT_CLASSES,
            conf=0.2,
            iou=0.3,
        )
        return {n: {"recall": round(c.recall, 2), "truths": c.truths} for n, c in rep.per_class.items()}

    a.work.mkdir(parents=True, exist_ok=True)
    champ = a.work / "champion.pt"
    results: list[dict[str, Any]] = []
    if not champ.exists():
        t = time.monotonic()
        r = train_scratch(
            write(a.work / "champ", {"train": bootf[:cut], "val": bootf[cut:]}), a.work / "runs"
        )
        shutil.copyfile(r.best_pt, champ)
        results.append({"model": "champion", "wall_s": round(time.monotonic() - t), "score": score(champ)})
    for cracks in a.cracks:
        seen, i, frames = 0, opts.live_start, []
        while seen < cracks:
            f = live.frame(i)
            frames.append((f"l{i}", f))
            seen += sum(b.class_name == "crack" for b in f.boxes)
            i += 1
        ntr = int(len(frames) * 0.85)
        for k in a.repeat:
            rare = [(t, f) for t, f in frames[:ntr] if any(b.class_name == "crack" for b in f.boxes)]
            train = bootf[:cut] + frames[:ntr] + [(f"{t}r{j}", f) for j in range(1, k) for t, f in rare]
            name = f"ft-{cracks}-x{k}-e{a.epochs or 'r'}-f{a.freeze}{'-reset' if a.reset_new_class else ''}"
            shutil.rmtree(a.work / name, ignore_errors=True)
            data = write(a.work / name, {"train": train, "val": frames[ntr:]})
            t = time.monotonic()
            start = champ
            if a.reset_new_class:
                start = reset_class_outputs(champ, [DEFECT_CLASSES.index("crack")], a.work / f"{name}.pt")
            extra = {k: v for k, v in (("epochs", a.epochs), ("freeze", a.freeze)) if v}
            r = fine_tune(start, data, a.work / f"runs-{name}", seed=0, device="cpu", **extra)
            results.append(
                {
                    "model": name,
                    "train_frames": len(train),
                    "wall_s": round(time.monotonic() - t),
                    "score": score(r.best_pt),
                }
            )
            print(json.dumps(results[-1]), flush=True)
    if a.json:
        a.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
