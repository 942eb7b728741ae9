"""The closed-loop training, measured: a champion from scratch without cracks, then a fine-tune with cracks.

python bench/bench_recipe.py [--frames 256 --ft-frames 128 --held 96] [--json out.json]

1. champion: ``train_scratch`` (recipe ``cpu_fast``) on ``DEMO_SIM`` frames (crack rate 0);
2. held-out frames of the line without cracks: mAP50 per class (``evaluate``);
3. the same held-out frames after the drift (``demo_drift_config``: cracks appear, every other defect stays):
   recall per class at conf 0.25 / IoU 0.5 (``detection_report``), crack included;
4. fine-tune: ``fine_tune`` (recipe ``cpu_fast_finetune``) from the champion on frames with crack labels;
5. (2) and (3) again for the fine-tuned model; ratios (fine-tune time / scratch time, recall after / before).

Wall time is what a user waits; CPU time (user + sys of this process) is what to compare across runs on a
shared box (with ``FACTORYLOOP_TRAIN_THREADS=1`` it is close to the wall time of a one-core idle machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

T = TypeVar("T")
HELD_START = 10_000
VAL_START = 5_000
FT_START = 20_000


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _timed(fn: Callable[[], T]) -> tuple[T, dict[str, float]]:
    wall, cpu = time.monotonic(), _cpu_s()
    out = fn()
    wall, cpu = time.monotonic() - wall, _cpu_s() - cpu
    return out, {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def run(frames: int, ft_frames: int, held: int, val: int) -> dict[str, Any]:
    from factoryloop.sim import Simulator
    from factoryloop.sim.classes import DEFECT_CLASSES
    from factoryloop.sim.presets import DEMO_SIM, demo_drift_config
    from tests.support.models import write_sim_dataset
    from training.yolo.evaluate import evaluate
    from training.yolo.recall import detection_report, pt_detector
    from training.yolo.recipes import CPU_FAST, CPU_FAST_FINETUNE, fine_tune, train_scratch
    from training.yolo.train import cpu_threads

    drift = demo_drift_config()
    out: dict[str, Any] = {
        "recipe": CPU_FAST.name,
        "finetune_recipe": CPU_FAST_FINETUNE.name,
        "torch_threads": cpu_threads(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="bench-recipe-") as tmp:
        root = Path(tmp)
        champ_data = write_sim_dataset(
            root / "champ", range(frames), range(VAL_START, VAL_START + val), DEMO_SIM
        )
        ft_data = write_sim_dataset(
            root / "ft", range(FT_START, FT_START + ft_frames), range(VAL_START, VAL_START + val), drift
        )
        held_clean = write_sim_dataset(
            root / "held", range(0), range(HELD_START, HELD_START + held), DEMO_SIM
        )
        samples = [(f.image, f.boxes) for f in Simulator(drift).frames(HELD_START, held)]

        def measure(pt: Path, imgsz: int) -> dict[str, Any]:
            ev = evaluate(pt, held_clean, imgsz=imgsz, device="cpu")
            rep = detection_report(pt_detector(pt, imgsz), samples, DEFECT_CLASSES)
            return {
                "mAP50_no_crack": round(ev.metrics["mAP50"], 3),
                "ap50": {c: round(m.ap50, 3) for c, m in ev.per_class.items()},
                "recall@0.25": {c: round(v.recall, 3) for c, v in rep.per_class.items()},
                "crack_truths": rep.per_class["crack"].truths,
            }

        champ, t_champ = _timed(lambda: train_scratch(champ_data, root / "runs-champ"))
        out["champion"] = {
            **t_champ,
            "train_images": champ.train_images,
            "epochs": len(champ.epochs),
            "images_per_s": round(champ.images_per_s, 1),
            **measure(champ.best_pt, CPU_FAST.imgsz),
        }
        tuned, t_ft = _timed(lambda: fine_tune(champ.best_pt, ft_data, root / "runs-ft"))
        out["fine_tuned"] = {
            **t_ft,
            "train_images": tuned.train_images,
            "epochs": len(tuned.epochs),
            "images_per_s": round(tuned.images_per_s, 1),
            **measure(tuned.best_pt, CPU_FAST_FINETUNE.imgsz),
        }
    before = out["champion"]["recall@0.25"]["crack"]
    after = out["fine_tuned"]["recall@0.25"]["crack"]
    out["ratios"] = {
        "finetune_wall / scratch_wall": round(t_ft["wall_s"] / t_champ["wall_s"], 3),
        "finetune_cpu / scratch_cpu": round(t_ft["cpu_s"] / max(t_champ["cpu_s"], 1e-9), 3),
        "crack_recall_after - before": round(after - before, 3),
        "crack_recall_after / before": round(after / before, 3) if before else None,
        "mAP50_no_crack_after / before": round(
            out["fine_tuned"]["mAP50_no_crack"] / max(out["champion"]["mAP50_no_crack"], 1e-9), 3
        ),
    }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=256, help="training frames of the champion")
    p.add_argument("--ft-frames", type=int, default=128, help="frames (with cracks) of the fine-tune")
    p.add_argument("--held", type=int, default=96, help="held-out frames for the measurements")
    p.add_argument("--val", type=int, default=64, help="val frames of each training")
    p.add_argument("--json", type=Path, help="also write the result here")
    a = p.parse_args()
    result = run(a.frames, a.ft_frames, a.held, a.val)
    text = json.dumps(result, indent=2)
    print(text)
    if a.json:
        a.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
