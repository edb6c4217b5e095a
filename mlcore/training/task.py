"""The training task, run by the worker process: one Ultralytics training into the job's run folder.

It stages a read-only view of the dataset, trains with Ultralytics in the offline engine
environment, and writes, next to Ultralytics' own files:

    progress.json   state, epoch, batch, percent, ETA, last losses (atomic replace, <= 4 per second)
    metrics.json    the final validation as numbers: per-class P/R/AP, curves, confusion matrix
    weights/resumable.pt  a copy of last.pt with its optimizer, so a stopped run can still resume

A file `stop.request` in the run folder asks it to stop after the current batch, validate and
finalise best.pt/last.pt (Stop); the job database records the outcome.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.atomic_file import write_atomically, write_json_atomically
from mlcore.core.paths import CONFIG_FILE, PROGRESS_FILE, RESUMABLE, STOP_FILE, RunFolder
from mlcore.core.settings import Settings, distributed_rank
from mlcore.datasets.loader import load_dataset
from mlcore.datasets.staging import stage_dataset
from mlcore.devices.leases import ultralytics_device
from mlcore.engine.architectures import model_architecture
from mlcore.engine.metrics import metrics_to_dict
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.progress import read_progress
from mlcore.jobs.store import Job, JobStore, ProgressState
from mlcore.tracking.training import TrainingTracker
from mlcore.training.spec import CONTINUING_MODES, TrainSpec

logger = logging.getLogger("mlcore.training.task")

WRITE_EVERY_S = 0.25


class ProgressReporter:
    """Ultralytics callbacks that keep progress.json current and honour stop.request.

    In a multi-GPU training the callbacks run in every rank; only rank 0 writes, and a stop is
    taken at the end of an epoch, where Ultralytics broadcasts rank 0's decision to all ranks
    (stopping one rank between batches would leave the others waiting forever).
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.batch = 0
        self.last_write = 0.0
        self.started = time.time()
        self.state = ProgressState.RUNNING

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_train_epoch_start": self.epoch_start,
            "on_train_batch_end": self.batch_end,
            "on_fit_epoch_end": self.fit_epoch_end,
            "on_model_save": self.model_saved,
        }

    def _write(self, trainer: Any, force: bool = False, final: bool = False) -> None:
        if distributed_rank() > 0:
            return
        now = time.time()
        if not force and now - self.last_write < WRITE_EVERY_S:
            return
        self.last_write = now
        batches = len(trainer.train_loader) if getattr(trainer, "train_loader", None) else 0
        epochs = int(trainer.epochs)
        done_epochs = int(trainer.epoch) - int(getattr(trainer, "start_epoch", 0))
        total = max(1, (epochs - int(getattr(trainer, "start_epoch", 0))) * max(1, batches))
        done = done_epochs * batches + self.batch
        fraction = 1.0 if final else min(1.0, done / total)
        elapsed = now - self.started
        losses = {}
        if getattr(trainer, "tloss", None) is not None:
            try:
                losses = {k: float(v) for k, v in trainer.label_loss_items(trainer.tloss, prefix="train").items()}
            except (TypeError, ValueError, AttributeError):
                losses = {}
        write_json_atomically(
            self.run_dir / PROGRESS_FILE,
            {
                "state": self.state,
                "device_memory_gb": device_memory_gb(trainer),
                "epoch": min(int(trainer.epoch) + 1, epochs),  # Ultralytics counts one past the end when done
                "epochs": epochs,
                "batch": self.batch,
                "batches": batches,
                "percent": round(100 * fraction, 1),
                "eta_s": None if fraction <= 0 or final else round(elapsed / fraction - elapsed, 1),
                "elapsed_s": round(elapsed, 1),
                "losses": losses,
                "updated": now,
            },
        )

    def epoch_start(self, trainer: Any) -> None:
        self.batch = 0
        self._write(trainer, force=True)

    def _stop_requested(self, trainer: Any) -> bool:
        if (self.run_dir / STOP_FILE).exists() and not trainer.stop:
            trainer.stop = True  # finish, validate, save and end normally
            self.state = ProgressState.STOPPING
            return True
        return False

    def batch_end(self, trainer: Any) -> None:
        self.batch += 1
        if distributed_rank() == -1 and self._stop_requested(trainer):
            self._write(trainer, force=True)
        self._write(trainer)

    def fit_epoch_end(self, trainer: Any) -> None:
        if distributed_rank() == 0:
            self._stop_requested(trainer)
        self._write(trainer, force=True)

    def model_saved(self, trainer: Any) -> None:
        """last.pt is stripped of its optimizer when training ends; keep a copy that can resume."""
        last = Path(trainer.last)
        if last.exists():
            tmp = last.with_name(f".{RESUMABLE}.tmp")
            shutil.copyfile(last, tmp)
            os.replace(tmp, last.with_name(RESUMABLE))


def device_memory_gb(trainer: Any) -> float | None:
    """Memory the training holds: reserved on its GPU, or this process's resident memory on the CPU."""
    try:
        if getattr(getattr(trainer, "device", None), "type", "cpu") != "cpu":
            return round(float(trainer._get_memory()), 2)
        import psutil

        return round(psutil.Process().memory_info().rss / 2**30, 2)
    except Exception:  # a figure for the page, never a reason to stop training
        return None


def raise_epoch_count(checkpoint: Path, total: int) -> None:
    """Set the total epochs inside a resumable checkpoint, so that resuming it trains up to `total`."""
    import torch

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)  # written by the studio's own run
    done = int(ckpt.get("epoch", -1)) + 1
    if total <= done:
        raise ValueError(f"the run already trained {done} epochs; extending to {total} adds none.")
    ckpt["train_args"]["epochs"] = total
    tmp = checkpoint.with_name(f".{checkpoint.name}.tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, checkpoint)
    logger.info("extending %s from %d to %d epochs", checkpoint.parent.parent.name, done, total)


def record_architecture(run_dir: Path, model: Any) -> None:
    """A transfer's architecture is its base checkpoint's: written into training_config.yaml, which the Runs page,
    the registry and later evaluations read (the spec holds the default until the base is loaded here)."""
    name = model_architecture(model.model)
    recorded = recorded_spec(run_dir, {})
    if name and recorded and recorded.get("model_architecture") != name:
        recorded["model_architecture"] = name
        write_atomically(run_dir / CONFIG_FILE, yaml.safe_dump(recorded, sort_keys=False).encode())


def recorded_spec(run_dir: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as training_config.yaml records it (for extend: the new epoch total), else the job's."""
    try:
        recorded = yaml.safe_load((run_dir / CONFIG_FILE).read_text())
    except (OSError, yaml.YAMLError):
        return spec
    return recorded if isinstance(recorded, dict) else spec


def run(job: Job, settings: Settings, store: JobStore, callbacks: dict[str, Any] | None = None) -> int:
    """Train the job's spec to its end (or its Stop); the process exit code. `callbacks` are more Ultralytics
    callbacks by event (a tuning trial's report to its study)."""
    reporter = ProgressReporter(Path(job.run_dir))

    def work() -> None:
        try:
            train(job, settings, reporter, callbacks or {})
        except BaseException:
            reporter.state = ProgressState.FAILED
            raise

    return run_to_end(store, job, work, batch_size=job.spec.get("batch_size"))


def train(job: Job, settings: Settings, reporter: ProgressReporter, callbacks: dict[str, Any]) -> None:
    folder = RunFolder(Path(job.run_dir))
    run_dir = folder.path
    spec = TrainSpec.from_dict(job.spec)
    dataset = load_dataset(Path(spec.dataset_path))
    data_yaml = stage_dataset(dataset, settings.outputs_root / paths.STAGING_DIR / job.id)

    from ultralytics import YOLO  # a new model from its architecture's yaml; weights load through the engine

    from mlcore.engine.env import use_all_cpu_cores
    from mlcore.engine.models import load_yolo

    continuing = spec.mode in CONTINUING_MODES
    if continuing:
        checkpoint = folder.resumable_checkpoint()
        if spec.mode == "extend":
            raise_epoch_count(checkpoint, spec.epochs)
        model = load_yolo(checkpoint)
    elif spec.mode == "full":
        model = YOLO(f"{spec.model_architecture}.yaml")
    else:
        model = load_yolo(str(spec.base_model_path))  # a transfer's spec always names it
        record_architecture(run_dir, model)
    for event, callback in reporter.callbacks().items():
        model.add_callback(event, callback)
    model.add_callback("on_train_start", use_all_cpu_cores)
    for event, callback in callbacks.items():
        model.add_callback(event, callback)
    tracker = TrainingTracker(settings, run_dir, recorded_spec(run_dir, job.spec), job_id=job.id)
    for event, callback in tracker.callbacks().items():  # none unless the MLflow bridge is on
        model.add_callback(event, callback)
    device = ultralytics_device(job.device)
    if continuing:  # the checkpoint holds every other argument, and its run folder
        metrics = model.train(resume=True, data=str(data_yaml), device=device, workers=spec.workers)
    else:
        args = {"plots": True, **spec.to_ultralytics(), "device": device}  # plots: false in `advanced` wins
        metrics = model.train(
            data=str(data_yaml), project=str(run_dir.parent), name=run_dir.name, exist_ok=True, **args
        )
    if (metrics is None or not hasattr(metrics, "box")) and folder.best.exists():
        # multi-GPU training validates in its ranks, not here: measure best.pt once more
        best = load_yolo(folder.best)
        metrics = best.val(data=str(data_yaml), device=device.split(",")[0], batch=16, plots=False)
    if metrics is not None and hasattr(metrics, "box"):
        write_json_atomically(folder.metrics, metrics_to_dict(metrics, dataset.names))
    reporter.state = ProgressState.STOPPED if folder.stop_request.exists() else ProgressState.COMPLETED
    progress = read_progress(run_dir)
    write_json_atomically(
        folder.progress,
        {**progress, "state": reporter.state, "percent": 100.0, "eta_s": None, "updated": time.time()},
    )
