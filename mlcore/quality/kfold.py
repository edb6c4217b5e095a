"""The coordinator of a K-fold audit, run by the worker as a job that holds no device.

It queues K short trainings (ordinary training jobs, transfer from the audited model's weights), each on the
split without one fold, waits for them, then queues the audit job proper, which predicts every fold with the
model that never saw it, and waits for that. Its job ends as the audit ends; a fold that fails ends it with
that fold's error. The fold jobs are listed in folds/jobs.json, so a page can show them and Cancel end them.
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
from mlcore.jobs.progress import write_progress
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import Job, JobState, JobStore
from mlcore.quality.spec import AUDIT_TASK, KFOLD_TASK
from mlcore.training.spec import TrainSpec
from mlcore.training.submit import submit_training

TASK = KFOLD_TASK
POLL_S = 1.0
FOLD_JOBS = "jobs.json"  # under folds/: {"trainings": [job ids], "audit": job id}
FOLD_DEFAULTS = {"plots": False, "val": True}


class FoldFailed(TaskError):
    """A fold's training or the audit after them did not complete; the message says which and why."""


def fold_jobs(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / paths.FOLDS_DIR / FOLD_JOBS).read_text())
    except (OSError, ValueError):
        return {"trainings": [], "audit": None}


def run(job: Job, settings: Settings, store: JobStore) -> int:
    return run_to_end(store, job, lambda: coordinate(job, settings, store))


def _project(folder: Path) -> str:
    return f"audit-{folder.name}"[:100]


def fold_run(folder: Path, k: int, settings: Settings) -> Path:
    return settings.outputs_root / paths.TRAININGS_DIR / _project(folder) / f"fold-{k}"


def _submit_folds(job: Job, settings: Settings) -> list[str]:
    spec, folder = job.spec, Path(job.run_dir)
    # the fold datasets are the studio's own, under this audit's folder: allowed for these trainings only
    allowed = replace(settings, dataset_roots=(*settings.dataset_roots, folder / paths.FOLDS_DIR))
    ids = []
    for k, data_yaml in enumerate(spec["fold_datasets"]):
        training = TrainSpec(
            mode="transfer", dataset_path=data_yaml, base_model_path=spec["model_path"], epochs=spec["kfold_epochs"],
            patience=spec["kfold_epochs"], imgsz=spec["imgsz"], device=spec["fold_device"], project=_project(folder),
            experiment=f"fold-{k}", batch_size=int(spec.get("batch_size") or 16), workers=int(spec.get("workers", 2)),
            advanced=dict(FOLD_DEFAULTS),
        )  # fmt: skip
        ids.append(submit_training(training, allowed, owner=job.owner).id)
    return ids


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
        folds = [{"model": str(fold_run(folder, n, settings) / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS),
                  "images": images} for n, images in enumerate(spec["fold_images"])]  # fmt: skip
        analysis = {**spec, "task": AUDIT_TASK, "device": spec["fold_device"], "folds": folds}
        record["audit"] = enqueue(settings, "audit", analysis, folder, job.owner).id
        write_json_atomically(folder / paths.FOLDS_DIR / FOLD_JOBS, record)
    (audited,) = _wait(store, [record["audit"]])
    if audited.state != JobState.COMPLETED:
        raise FoldFailed(f"the audit of the {k} folds did not complete: {audited.error or audited.state.value}")
