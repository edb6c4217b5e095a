"""The coordinator of a K-fold audit, run by the worker as a job that holds no device.

It queues K short trainings (ordinary training jobs, fine-tuning the audited model's weights with FOLD_RECIPE),
each on the split without one fold, waits for them, then queues the audit job proper, which first checks the fold
models against the audited model (`fold_check`: too weak, and it ends with their figures and what to change),
then predicts every fold with the model that never saw it, and waits for that. Its job ends as the audit ends; a
fold that fails ends it with that fold's error. The fold jobs are listed in folds/jobs.json, so a page can show
them and Cancel end them; the check's figures are in folds/figures.json.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.errors import TaskError
from mlcore.core.settings import Settings
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.kinds import JobKind, JobTask
from mlcore.jobs.progress import write_progress
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import Job, JobState, JobStore
from mlcore.runs.metrics import MetricsError, read_metrics
from mlcore.runs.store import read_run
from mlcore.training.spec import TrainSpec
from mlcore.training.submit import submit_training

POLL_S = 1.0
FOLD_JOBS = "jobs.json"  # under folds/: {"trainings": [job ids], "audit": job id}
FOLD_FIGURES = "figures.json"  # under folds/: each fold model's validation figures beside the audited model's
# The fold trainings fine-tune a trained model for a few epochs; Ultralytics' defaults are made for training one
# over a hundred. With them (8.4.190) optimizer=auto ignores lr0 and, counting few iterations, picks AdamW at
# 0.002*5/(4+classes) (0.002 for 1 class); the 3 warm-up epochs are cut to epochs-1, so a 1-epoch fold gets none and
# Adam's first steps move every weight by about that lr, which wrecks a converged model (logo_tdtu, 3 folds: mAP50
# 0.84 -> 0.00 in 1 epoch; 3 warm-up-cushioned epochs kept 0.84). SGD, whose step follows the loss's gradient (summed
# over the batch by Ultralytics), fell off a cliff between lr 0.001 (0.85) and 0.003 (0.01) there; Adam's step is
# about lr whatever the gradient's scale, so one lr is safe across datasets: 1e-4 kept 0.84 after 1, 3 and 10 epochs,
# 3e-4 still 0.84.
FOLD_OPTIMIZER = "AdamW"  # explicit: optimizer=auto would ignore lr0
FOLD_LR0 = 0.0001  # a twentieth of what auto picks for a few classes; lrf still decays it over the epochs
FOLD_RECIPE = {
    "warmup_epochs": 0,  # a ramp from lr 0 that, with few epochs, would take most of them; the lr is small already
    "warmup_bias_lr": 0.0,  # (warm-up only) a bias lr of 0.1 would first undo the trained head's biases
    "close_mosaic": 0,  # mosaic is off from the first epoch (FOLD_AUGMENTATION): nothing to switch mid-training
    "plots": False,
    "val": True,  # each epoch validated: best.pt and the figures fold_check compares
}  # and nbs = the batch (`fold_spec`): one optimizer step per batch, not one per 64 images (4x fewer at batch 16)
# The audited model ended its own training without mosaic (Ultralytics' close_mosaic), and the audit predicts whole
# images: the folds continue as it ended.
FOLD_AUGMENTATION = {"mosaic": 0.0}
FOLD_BATCH = 16
# A fold model is too weak to audit with when its mAP50 on its validation images is below half the audited model's
# on the same images, or below MIN_FOLD_MAP50 whatever that scores: its suspects would be its own mistakes.
WEAK_FOLD_FRACTION = 0.5
MIN_FOLD_MAP50 = 0.05


class FoldFailed(TaskError):
    """A fold's training or the audit after them did not complete; the message says which and why."""


class FoldsTooWeak(TaskError):
    """The fold models score too far below the audited model to rank its labels; the message gives the figures."""


def fold_jobs(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / paths.FOLDS_DIR / FOLD_JOBS).read_text())
    except (OSError, ValueError):
        return {"trainings": [], "audit": None}


def fold_check_of(folder: Path) -> dict[str, Any] | None:
    """The check of the fold models (`fold_check`), once the audit job has made it; None before."""
    try:
        return json.loads((folder / paths.FOLDS_DIR / FOLD_FIGURES).read_text())
    except (OSError, ValueError):
        return None


def fold_model_figures(run_dir: Path) -> tuple[float, float] | None:
    """A fold training's validation of its best.pt, (mAP50, mAP50-95): metrics.json, else results.csv's best
    epoch; None when it recorded none (or detected nothing at all)."""
    try:
        metrics = read_metrics(run_dir / paths.METRICS_FILE)
    except MetricsError:
        metrics = None
    if metrics is not None:
        return float(metrics["map50"]), float(metrics["map50_95"])
    run = read_run(run_dir)
    if run is None or run.best_map50 is None or run.best_map50_95 is None:
        return None
    return run.best_map50, run.best_map50_95


def too_weak(fold_map50: float | None, source_map50: float) -> bool:
    """The rule: below WEAK_FOLD_FRACTION of the audited model's mAP50 on the same images, or below MIN_FOLD_MAP50."""
    return fold_map50 is None or fold_map50 < max(WEAK_FOLD_FRACTION * source_map50, MIN_FOLD_MAP50)


def fold_check(spec: dict[str, Any], folder: Path, source: list[dict[str, Any]], shared: bool) -> dict[str, Any]:
    """Each fold model's figures beside the audited model's on the same validation images (`source[k]`: its
    {"map50", "map50_95", "images"} on fold k's; `shared`: one set for every fold, the val split), written to
    folds/figures.json; FoldsTooWeak, with the figures and what to change, when a fold model is too weak."""
    rows = []
    for k, fold in enumerate(spec["folds"]):
        figures = fold_model_figures(Path(fold["model"]).parent.parent)
        mine = source[k]
        rows.append(
            {
                "fold": k + 1,
                "images": mine["images"],
                "map50": None if figures is None else round(figures[0], 4),
                "map50_95": None if figures is None else round(figures[1], 4),
                "source_map50": round(mine["map50"], 4),
                "source_map50_95": round(mine["map50_95"], 4),
                "weak": too_weak(None if figures is None else figures[0], mine["map50"]),
            }
        )
    check = {
        "folds": rows,
        "weak": any(r["weak"] for r in rows),
        "validated_on": "val split" if shared else "held-out fold",
        "imgsz": spec["imgsz"],
        "epochs": spec["kfold_epochs"],
        "fraction": WEAK_FOLD_FRACTION,
        "floor": MIN_FOLD_MAP50,
    }
    write_json_atomically(folder / paths.FOLDS_DIR / FOLD_FIGURES, check)
    if check["weak"]:
        raise FoldsTooWeak(weak_folds_message(check))
    return check


def _figure(value: float | None) -> str:
    return "none recorded" if value is None else f"{value:.2f}"


def weak_folds_message(check: dict[str, Any]) -> str:
    """Why the audit ranked nothing: every fold's figures beside the audited model's, the rule, what to change."""
    rows, epochs = check["folds"], check["epochs"]
    k, weak = len(rows), [str(r["fold"]) for r in rows if r["weak"]]
    which = "all of them" if len(weak) == k else f"fold {', '.join(weak)} of {k}"
    where = "the val split" if check["validated_on"] == "val split" else "its held-out fold"
    figures = "; ".join(
        f"fold {r['fold']} mAP50 {_figure(r['map50'])} against {r['source_map50']:.2f} (mAP50-95 "
        f"{_figure(r['map50_95'])} against {r['source_map50_95']:.2f})"
        for r in rows
    )
    if all(r["source_map50"] < check["floor"] for r in rows):
        change = (
            f"the audited model itself finds almost nothing there at imgsz {check['imgsz']}: audit a stronger model, "
            "or at the image size it was trained at"
        )
    else:
        change = f"give each fold more epochs (epochs per fold: {epochs} now, try {max(2 * epochs, 10)})"
        if k < 5:
            change += f", or use more folds (each fold model learns from {k - 1}/{k} of the split, with 5 folds 4/5)"
    return (
        f"the fold models are too weak to audit with ({which}), so no label was ranked: their suspects would be "
        f"mostly their own mistakes. On {where}, at imgsz {check['imgsz']}, each against the audited model on the "
        f"same images: {figures}. A fold model must reach {check['fraction']:g} of the audited model's mAP50 and at "
        f"least {check['floor']:g}. To change: {change}."
    )


def run(job: Job, settings: Settings, store: JobStore) -> int:
    return run_to_end(store, job, lambda: coordinate(job, settings, store))


def _project(folder: Path) -> str:
    return f"audit-{folder.name}"[:100]


def fold_run(folder: Path, k: int, settings: Settings) -> Path:
    return settings.outputs_root / paths.TRAININGS_DIR / _project(folder) / f"fold-{k}"


def fold_spec(spec: dict[str, Any], k: int, folder: Path) -> TrainSpec:
    """The training of fold k: the audited model's weights fine-tuned on the other folds with FOLD_RECIPE."""
    batch = int(spec.get("batch_size") or FOLD_BATCH)
    return TrainSpec(
        mode="transfer",
        dataset_path=spec["fold_datasets"][k],
        base_model_path=spec["model_path"],
        epochs=spec["kfold_epochs"],
        patience=spec["kfold_epochs"],
        imgsz=spec["imgsz"],
        device=spec["fold_device"],
        project=_project(folder),
        experiment=f"fold-{k}",
        batch_size=batch,
        workers=int(spec.get("workers", 2)),
        optimizer=FOLD_OPTIMIZER,
        learning_rate=FOLD_LR0,
        augmentation=dict(FOLD_AUGMENTATION),
        advanced={**FOLD_RECIPE, "nbs": batch},
    )


def _submit_folds(job: Job, settings: Settings) -> list[str]:
    spec, folder = job.spec, Path(job.run_dir)
    # the fold datasets are the studio's own, under this audit's folder: allowed for these trainings only
    allowed = replace(settings, dataset_roots=(*settings.dataset_roots, folder / paths.FOLDS_DIR))
    return [
        submit_training(fold_spec(spec, k, folder), allowed, owner=job.owner).id
        for k in range(len(spec["fold_datasets"]))
    ]


def _wait(store: JobStore, ids: list[str], on_look: Any = None) -> list[Job]:
    while True:
        jobs = [store.get(i) for i in ids]
        if on_look is not None:
            on_look(jobs)
        if all(j.state.is_final() for j in jobs):
            return jobs
        time.sleep(POLL_S)


def coordinate(job: Job, settings: Settings, store: JobStore) -> None:
    folder, spec = Path(job.run_dir), job.spec
    record = fold_jobs(folder)
    if not record["trainings"]:
        record["trainings"] = _submit_folds(job, settings)
        write_json_atomically(folder / paths.FOLDS_DIR / FOLD_JOBS, record)
    k = len(record["trainings"])

    def look(jobs: list[Job]) -> None:
        done = sum(j.state == JobState.COMPLETED for j in jobs)
        write_progress(folder, 60 * done / k, f"training the fold models ({done} of {k} done)")

    trainings = _wait(store, record["trainings"], look)
    for n, training in enumerate(trainings):
        if training.state != JobState.COMPLETED:
            why = training.error or f"it was {training.state.value}"
            raise FoldFailed(f"the training of fold {n + 1} of {k} did not complete: {why}")
    if not record.get("audit"):
        folds = [
            {"model": str(fold_run(folder, n, settings) / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS), "images": images}
            for n, images in enumerate(spec["fold_images"])
        ]
        analysis = {**spec, "task": JobTask.AUDIT, "device": spec["fold_device"], "folds": folds}
        record["audit"] = enqueue(settings, JobKind.AUDIT, analysis, folder, job.owner).id
        write_json_atomically(folder / paths.FOLDS_DIR / FOLD_JOBS, record)
    (audited,) = _wait(store, [record["audit"]])
    if audited.state != JobState.COMPLETED and (fold_check_of(folder) or {}).get("weak"):
        raise FoldsTooWeak(audited.error or "the fold models are too weak to audit with.")
    if audited.state != JobState.COMPLETED:
        raise FoldFailed(f"the audit of the {k} folds did not complete: {audited.error or audited.state.value}")
