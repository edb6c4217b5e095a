"""How fast a from-scratch YOLOv8n learns the demo dataset on this machine's CPU.

Generates the demo dataset (400 images at 256 px) in a temporary folder, trains `yolov8n.yaml`
from scratch in a child process prepared by `mlcore.engine_env` (offline), and prints the
validation mAP50 after every epoch with the wall-clock time since launch. It stops at the first
epoch whose mAP50 reaches the target, and reports the minutes it took against the 6-minute budget.

    python benchmarks/demo_convergence.py [--epochs 30] [--target 0.5] [--budget-min 6]
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.demo_data import DEMO_TRAINING_RECIPE, make_demo_dataset  # noqa: E402
from mlcore.engine_env import engine_environment  # noqa: E402
from mlcore.settings import load_settings  # noqa: E402

CHILD = r"""
import json, sys, time
from ultralytics import YOLO
from mlcore.engine_env import use_all_cpu_cores

data, project, epochs, target, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
recipe = json.loads(sys.argv[6])

def on_fit_epoch_end(trainer):
    m50 = float(trainer.metrics.get("metrics/mAP50(B)", 0.0))
    final = "val/box_loss" not in trainer.metrics
    with open(log, "a") as f:
        f.write(json.dumps({"epoch": trainer.epoch + 1, "mAP50": m50, "final": final, "t": time.time()}) + "\n")
    if m50 >= target:
        trainer.stop = True

model = YOLO("yolov8n.yaml")
model.add_callback("on_fit_epoch_end", on_fit_epoch_end)
model.add_callback("on_train_start", use_all_cpu_cores)
model.train(data=data, epochs=epochs, device="cpu", workers=0, seed=0, project=project, name="convergence",
            exist_ok=True, plots=False, verbose=False, **recipe)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="epochs of the schedule (default 30)")
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--target", type=float, default=0.5, help="mAP50 to reach (default 0.5)")
    parser.add_argument("--budget-min", type=float, default=6.0, help="time budget in minutes")
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

    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="demo-convergence-") as tmp:
        tmp_path = Path(tmp)
        summary = make_demo_dataset(tmp_path / "demo", images=args.images)
        log = tmp_path / "epochs.jsonl"
        env = engine_environment(settings)
        env["YOLO_VERBOSE"] = "0"
        start = time.time()
        cmd = [
            sys.executable,
            "-c",
            CHILD,
            str(summary.data_yaml),
            str(tmp_path / "runs"),
            str(args.epochs),
            str(args.target),
            str(log),
            json.dumps(recipe),
        ]
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        total = time.time() - start
        rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    print(f"demo dataset: {summary.images} images, {summary.boxes} boxes; yolov8n from scratch on CPU")
    print(f"recipe: epochs={args.epochs} " + " ".join(f"{k}={v}" for k, v in recipe.items()))
    reached = None
    for row in rows:
        minutes = (row["t"] - start) / 60
        tag = " (final eval of best.pt)" if row["final"] else ""
        print(f"epoch {row['epoch']:>3}  mAP50 {row['mAP50']:.3f}  at {minutes:5.2f} min{tag}")
        if reached is None and row["mAP50"] >= args.target:
            reached = minutes
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        print(f"training failed with exit code {proc.returncode}")
        return 1
    if reached is None:
        print(f"mAP50 >= {args.target} not reached in {args.epochs} epochs ({total / 60:.2f} min)")
        return 1
    print(
        f"RESULT: mAP50 >= {args.target} after {reached:.2f} min "
        f"= {reached / args.budget_min:.2f} x the {args.budget_min:g}-minute budget"
    )
    return 0 if reached <= args.budget_min else 1


if __name__ == "__main__":
    sys.exit(main())
