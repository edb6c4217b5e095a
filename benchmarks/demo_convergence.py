"""How fast a from-scratch YOLOv8n learns the demo dataset on this machine's CPU.

Generates the demo dataset (400 images at 256 px) in a temporary folder and trains `yolov8n.yaml`
from scratch twice, each in a child process prepared by `mlcore.engine.env` (offline):

1. the studio's demo recipe (`DEMO_TRAINING_RECIPE`, all CPU cores);
2. Ultralytics' defaults at the same image and batch size (as `yolo train` would run it).

Each run stops at the first epoch whose validation mAP50 reaches the target (or at the time cap).
It prints mAP50 per epoch with the wall-clock time since launch, the minutes to the target, and
the ratio of the two.

    python benchmarks/demo_convergence.py [--epochs 20] [--target 0.5] [--budget-min 6] [--no-compare]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.datasets.demo import DEMO_TRAINING_RECIPE, make_demo_dataset  # noqa: E402
from mlcore.engine.env import engine_environment  # noqa: E402

CHILD = r"""
import json, sys, time
from ultralytics import YOLO
from mlcore.engine.env import use_all_cpu_cores

data, project, epochs, target, log, recipe, all_cores = sys.argv[1:8]
target = float(target)

def on_fit_epoch_end(trainer):
    m50 = float(trainer.metrics.get("metrics/mAP50(B)", 0.0))
    final = "val/box_loss" not in trainer.metrics
    with open(log, "a") as f:
        f.write(json.dumps({"epoch": trainer.epoch + 1, "mAP50": m50, "final": final, "t": time.time()}) + "\n")
    if m50 >= target:
        trainer.stop = True

model = YOLO("yolov8n.yaml")
model.add_callback("on_fit_epoch_end", on_fit_epoch_end)
if all_cores == "1":
    model.add_callback("on_train_start", use_all_cpu_cores)
model.train(data=data, epochs=int(epochs), device="cpu", workers=0, seed=0, project=project, name="run",
            exist_ok=True, plots=False, verbose=False, **json.loads(recipe))
"""


def run(
    name: str, data: Path, work: Path, epochs: int, target: float, recipe: dict, all_cores: bool, cap_s: float
) -> float | None:
    """Train once; print each epoch; return minutes to the target (None if not reached)."""
    log = work / f"{name}.jsonl"
    env = engine_environment(load_settings())
    env.update(YOLO_VERBOSE="0", PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-c",
        CHILD,
        str(data),
        str(work / name),
        str(epochs),
        str(target),
        str(log),
        json.dumps(recipe),
        "1" if all_cores else "0",
    ]
    print(
        f"\n[{name}] epochs={epochs} {' '.join(f'{k}={v}' for k, v in recipe.items())} "
        f"threads={'all cores' if all_cores else 'Ultralytics default (cores - 1)'}",
        flush=True,
    )
    start = time.time()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=cap_s)
        failed = proc.returncode != 0 and proc.stderr[-2000:]
    except subprocess.TimeoutExpired:
        failed = None
        print(f"  stopped at the {cap_s / 60:.0f}-minute cap")
    reached = None
    for row in (json.loads(x) for x in log.read_text().splitlines()) if log.exists() else []:
        minutes = (row["t"] - start) / 60
        tag = " (final evaluation of best.pt)" if row["final"] else ""
        print(f"  epoch {row['epoch']:>3}  mAP50 {row['mAP50']:.3f}  at {minutes:5.2f} min{tag}")
        if reached is None and row["mAP50"] >= target:
            reached = minutes
    if failed:
        print(failed, file=sys.stderr)
        raise SystemExit(f"[{name}] training failed")
    print(f"  -> mAP50 >= {target}: " + (f"{reached:.2f} min" if reached is not None else "not reached"))
    return reached


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the schedule (default 20)")
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--target", type=float, default=0.5, help="mAP50 to reach (default 0.5)")
    parser.add_argument("--budget-min", type=float, default=6.0, help="time budget in minutes (default 6)")
    parser.add_argument("--no-compare", action="store_true", help="skip the Ultralytics-defaults run")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a training argument of the demo recipe (repeatable)",
    )
    args = parser.parse_args()
    recipe = dict(DEMO_TRAINING_RECIPE)
    for item in args.set:
        key, _, value = item.partition("=")
        recipe[key] = yaml.safe_load(value)
    cap_s = 2 * args.budget_min * 60

    with tempfile.TemporaryDirectory(prefix="demo-convergence-") as tmp:
        work = Path(tmp)
        summary = make_demo_dataset(work / "demo", images=args.images)
        print(f"demo dataset: {summary.images} images, {summary.boxes} boxes; yolov8n from scratch on CPU")
        studio = run("studio", summary.data_yaml, work, args.epochs, args.target, recipe, True, cap_s)
        defaults = None
        if not args.no_compare:
            plain = {"imgsz": recipe["imgsz"], "batch": recipe["batch"]}
            defaults = run(
                "ultralytics-defaults", summary.data_yaml, work, args.epochs, args.target, plain, False, cap_s
            )

    print()
    if studio is None:
        print(f"RESULT: the demo recipe did not reach mAP50 >= {args.target}")
        return 1
    print(
        f"RESULT: demo recipe reaches mAP50 >= {args.target} in {studio:.2f} min "
        f"({studio / args.budget_min:.2f} x the {args.budget_min:g}-minute budget)"
    )
    if defaults is not None:
        print(
            f"RESULT: Ultralytics defaults take {defaults:.2f} min: the studio recipe is "
            f"{defaults / studio:.1f}x faster to the target"
        )
    elif not args.no_compare:
        print(
            f"RESULT: Ultralytics defaults did not reach it within {cap_s / 60:.0f} min "
            f"(> {cap_s / 60 / studio:.1f}x slower)"
        )
    return 0 if studio <= args.budget_min else 1


if __name__ == "__main__":
    sys.exit(main())
