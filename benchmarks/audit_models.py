"""The models of several strengths that benchmarks/audit_accuracy.py audits with: one training per dataset,
from scratch on the CPU, keeping a checkpoint every `period` epochs, and the first checkpoint to reach each
target val mAP50 (the figure Ultralytics measured on the val split at that epoch, with the weights it saved).

    dataset = prepare_dataset("demo-a", work)            # generated, or ../shared/datasets/logo_tdtu
    run = train_with_checkpoints(dataset, work, "demo-a", epochs=60, imgsz=256)
    picked = pick_checkpoints(run, targets=(0.6, 0.8, 0.9, 0.99))   # [(target, epoch, map50, weights), ...]
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "datasets" / "logo_tdtu"
# Two generated datasets that differ in size, image size and layout seed, and one real one.
GENERATED = {"demo-a": {"images": 300, "imgsz": 160, "seed": 0}, "demo-b": {"images": 500, "imgsz": 160, "seed": 5}}
DATASETS = (*GENERATED, "logo_tdtu")


@dataclass(frozen=True)
class Checkpoint:
    target: float
    epoch: int
    map50: float
    map50_95: float
    weights: Path


def prepare_dataset(name: str, work: Path) -> Path:
    """The dataset's folder: a generated one is made under work/data once; the real one is used where it is."""
    if name == "logo_tdtu":
        if not REAL.exists():
            raise SystemExit(f"{REAL} is missing: the real dataset ships in ../shared/datasets")
        return REAL
    from mlcore.datasets.demo import make_demo_dataset

    folder = work / "data" / name
    if not folder.exists():
        make_demo_dataset(folder, **GENERATED[name])
    return folder


def train_with_checkpoints(dataset: Path, work: Path, name: str, epochs: int, imgsz: int, device: str) -> Path:
    """The training's run folder, trained once (a finished run under work is reused)."""
    from benchmarks.workspace import wait
    from mlcore.core.settings import load_settings
    from mlcore.training.spec import TrainSpec
    from mlcore.training.submit import submit_training

    run = work / "ml_outputs" / "trainings" / "audit-bench" / name
    if (run / "weights" / "best.pt").exists():
        return run
    print(f"Training a YOLOv8n on {dataset} ({epochs} epochs at {imgsz}, a checkpoint every epoch)...", flush=True)
    spec = TrainSpec(
        dataset_path=str(dataset),
        epochs=epochs,
        imgsz=imgsz,
        batch_size=16,
        workers=2,
        device=device,
        project="audit-bench",
        experiment=name,
        patience=epochs,
        cache="ram",
        advanced={"plots": False, "save_period": 1},
    )
    print(f"  trained in {wait(submit_training(spec, load_settings()).id)['seconds']:.0f} s", flush=True)
    return run


def epoch_figures(run: Path) -> list[tuple[int, float, float]]:
    """(epoch, val mAP50, val mAP50-95) per epoch, from the run's results.csv."""
    with open(run / "results.csv", newline="") as f:
        rows = [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(f)]
    return [(int(float(r["epoch"])), float(r["metrics/mAP50(B)"]), float(r["metrics/mAP50-95(B)"])) for r in rows]


def checkpoint_file(run: Path, epoch: int) -> Path:
    """The weights saved after `epoch` (1-based, as results.csv counts; Ultralytics names them from 0)."""
    return run / "weights" / f"epoch{epoch - 1}.pt"


def pick_checkpoints(run: Path, targets: tuple[float, ...]) -> list[Checkpoint]:
    """For each target, the first saved epoch whose val mAP50 reaches it (the best epoch when none does; a target
    that picks the same epoch as a lower one is left out)."""
    figures = [f for f in epoch_figures(run) if checkpoint_file(run, f[0]).exists()]
    picked: list[Checkpoint] = []
    for target in targets:
        reached = [f for f in figures if f[1] >= target]
        epoch, map50, map50_95 = reached[0] if reached else max(figures, key=lambda f: f[1])
        if any(c.epoch == epoch for c in picked):
            continue
        picked.append(Checkpoint(target, epoch, map50, map50_95, checkpoint_file(run, epoch)))
    return picked
