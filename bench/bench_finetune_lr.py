"""Fine-tune learning rates on one retrain's own data: which lr0 learns the new class and keeps the rest?

python bench/bench_finetune_lr.py --run RUN_DIR --champion CHAMPION.pt --lr0 0.004 0.002 0.001 [--seeds 0 1]
python bench/bench_finetune_lr.py --run RUN_DIR --champion C.pt --lr0 0.002 --seeds 0 1 --precise-bn 900

RUN_DIR is a retrain's work folder (``<state_dir>/runs/<product>/<stamp>``, e.g. from a closed-loop run:
``training/runs/demo_plate/...`` under the test's tmp dir): its ``data/`` is the training export, ``recent/``
and ``golden/`` are what the gate judges on. CHAMPION.pt is the model that retrain fine-tuned (the first run's
``train/weights/best.pt``). Each lr0 (x seed) fine-tunes with recipe ``cpu_fast_finetune`` and is scored like
the gate: mAP50-95 on recent and golden, and the new class's AP50 and recall, and the gate's decision against
the champion (the baseline). With ``--precise-bn N`` each fine-tune is scored twice: with the BatchNorm
statistics training left (``trained BN``) and recomputed over N augmented training images
(``training.yolo.precise_bn``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _portable(src: Path, dst: Path) -> Path:
    """Copy a YOLO folder and point its data.yaml at the copy (the export wrote absolute paths)."""
    import yaml

    shutil.copytree(src, dst)
    cfg = yaml.safe_load((dst / "data.yaml").read_text())
    cfg["path"] = str(dst)
    (dst / "data.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dst / "data.yaml"


def main() -> None:
    from training.registry.gate import GatePolicy, decide
    from training.yolo.evaluate import evaluate
    from training.yolo.precise_bn import TRAINED_STATS_NAME
    from training.yolo.recipes import CPU_FAST_FINETUNE, fine_tune

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--champion", type=Path, required=True)
    p.add_argument("--lr0", type=float, nargs="+", default=[0.004, 0.002, 0.001])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--new-class", default="crack")
    p.add_argument("--json", type=Path)
    p.add_argument(
        "--freeze-batchnorm", choices=["no", "yes", "both"], default="no", help="keep the champion's BN stats"
    )
    p.add_argument(
        "--precise-bn",
        type=int,
        default=0,
        metavar="IMAGES",
        help="recompute the BN statistics over this many augmented training images; both are scored",
    )
    a = p.parse_args()
    imgsz = int(CPU_FAST_FINETUNE.imgsz)
    with tempfile.TemporaryDirectory(prefix="fl-bench-lr-") as d:
        work = Path(d)
        data = _portable(a.run / "data", work / "data")
        judged = {s: _portable(a.run / s, work / s) for s in ("recent", "golden") if (a.run / s).is_dir()}

        champion: dict[str, Any] = {}

        def score(pt: Path) -> dict[str, Any]:
            out: dict[str, Any] = {}
            evals = {split: evaluate(pt, yaml_path, imgsz=imgsz) for split, yaml_path in judged.items()}
            if not champion:
                champion.update(evals)
            elif "golden" in evals:  # the gate's decision against the champion, as the pipeline takes it
                verdict = decide(
                    evals["golden"],
                    champion["golden"],
                    GatePolicy(),
                    challenger_recent=evals.get("recent"),
                    champion_recent=champion.get("recent"),
                )
                out["gate"] = "promote" if verdict.promote else "refuse"
            for split, ev in evals.items():
                new = ev.per_class.get(a.new_class)
                out[split] = {
                    "mAP50-95": round(ev.metrics["mAP50-95"], 3),
                    **(
                        {
                            f"{a.new_class}_ap50": round(new.ap50, 2),
                            f"{a.new_class}_recall": round(new.recall, 2),
                        }
                        if new
                        else {}
                    ),
                }
            return out

        rows: list[dict[str, Any]] = [{"model": "champion", **score(a.champion)}]
        print(json.dumps(rows[-1]), flush=True)
        frozen = {"no": [False], "yes": [True], "both": [False, True]}[a.freeze_batchnorm]
        for lr0, seed, freeze in ((lr, sd, f) for lr in a.lr0 for sd in a.seeds for f in frozen):
            t = time.monotonic()
            out = work / f"lr{lr0}-s{seed}-bn{int(freeze)}"
            r = fine_tune(
                a.champion,
                data,
                out,
                lr0=lr0,
                seed=seed,
                device="cpu",
                freeze_batchnorm=freeze,
                precise_bn=a.precise_bn,
            )
            name = f"lr0 {lr0} seed {seed}" + (" BN frozen" if freeze else "")
            wall = round(time.monotonic() - t)
            trained = r.best_pt.with_name(TRAINED_STATS_NAME)
            if trained.is_file():  # the same weights with the statistics training left them
                rows.append({"model": name + " trained BN", "wall_s": wall, **score(trained)})
                print(json.dumps(rows[-1]), flush=True)
                name += f" precise BN {a.precise_bn}"
            rows.append({"model": name, "wall_s": wall, **score(r.best_pt)})
            print(json.dumps(rows[-1]), flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
