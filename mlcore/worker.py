"""The training worker: runs one job in its own process, started detached by the scheduler.

    python -m mlcore.worker JOB_ID

It stages a read-only view of the dataset, trains into the job's run folder with Ultralytics in
the offline engine environment, and writes, next to Ultralytics' own files:

    progress.json   state, epoch, batch, percent, ETA, last losses (atomic replace, <= 4 per second)
    metrics.json    the final validation as numbers: per-class P/R/AP, curves, confusion matrix
    weights/resumable.pt  a copy of last.pt with its optimizer, so a stopped run can still resume

A file `stop.request` in the run folder asks it to stop after the current batch, validate and
finalise best.pt/last.pt (Stop); the job database records the outcome.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from mlcore import paths
from mlcore.atomic_file import write_json_atomically
from mlcore.dataset_view import stage_dataset
from mlcore.datasets import load_dataset
from mlcore.jobs import InvalidTransition, JobState, JobStore
from mlcore.settings import Settings, distributed_rank, load_settings
from mlcore.train_spec import TrainSpec

logger = logging.getLogger("mlcore.worker")

PROGRESS_FILE = "progress.json"
METRICS_FILE = "metrics.json"
CONFIG_FILE = "training_config.yaml"
STOP_FILE = "stop.request"
RESUMABLE = "resumable.pt"
WRITE_EVERY_S = 0.25


def read_progress(run_dir: Path) -> dict[str, Any]:
    """The run's progress.json, or {} while there is none (or it cannot be read)."""
    try:
        return json.loads((run_dir / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return {}


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
        self.state = "running"

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
            self.state = "stopping"
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


def failure_message(exc: BaseException, batch_size: Any) -> str:
    """Why a job failed, in words that say what to do when the cause is known."""
    if "out of memory" in str(exc).lower():
        batch = int(batch_size) if isinstance(batch_size, int) and batch_size > 0 else 16
        return (
            f"CUDA out of memory with batch_size={batch_size} (Ultralytics had already tried smaller "
            f"batches if it happened in the first epoch); try batch_size={max(1, batch // 2)}, a smaller "
            "imgsz, or a GPU with more free memory, then resume or start again."
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (
            f"the outputs disk is full or a file-size limit was reached ({exc.strerror}); free space under "
            "the outputs folder, then resume the run or start again. Nothing from this job is shown as complete."
        )
    return f"{type(exc).__name__}: {exc}"


def _count(counts: Any, index: int) -> int | None:
    return int(counts[index]) if counts is not None and index < len(counts) else None


def metrics_to_dict(metrics: Any, names: dict[int, str]) -> dict[str, Any]:
    """Ultralytics' DetMetrics as plain numbers for the charts (no PNGs needed)."""
    box = metrics.box
    classes = []
    for i, cid in enumerate(getattr(box, "ap_class_index", [])):
        p, r, ap50, ap = box.class_result(i)
        classes.append(
            {
                "id": int(cid),
                "name": names.get(int(cid), str(cid)),
                "precision": float(p),
                "recall": float(r),
                "ap50": float(ap50),
                "ap50_95": float(ap),
                "instances": _count(getattr(metrics, "nt_per_class", None), int(cid)),
                "images": _count(getattr(metrics, "nt_per_image", None), int(cid)),
            }
        )
    curves = {}
    for name, (x, y, xlabel, ylabel) in zip(metrics.curves, metrics.curves_results, strict=False):
        curves[name] = {
            "x": [float(v) for v in x],
            "y": [[float(v) for v in row] for row in y],
            "xlabel": xlabel,
            "ylabel": ylabel,
        }
    matrix = getattr(getattr(metrics, "confusion_matrix", None), "matrix", None)
    return {
        "precision": float(box.mp),
        "recall": float(box.mr),
        "map50": float(box.map50),
        "map50_95": float(box.map),
        "classes": classes,
        "curves": curves,
        "confusion_matrix": None if matrix is None else [[float(v) for v in row] for row in matrix],
        "confusion_axes": [*[names[i] for i in sorted(names)], "background"],
        "speed_ms": {k: float(v) for k, v in getattr(metrics, "speed", {}).items()},
    }


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


def ultralytics_device(lease: str | None) -> str:
    """The device argument for a leased device: the scheduler sets CUDA_VISIBLE_DEVICES to the leased
    GPUs, which the worker then sees as 0, 1, ..."""
    if not lease or lease == "cpu":
        return "cpu"
    count = len(lease.removeprefix("gpu:").split(","))
    return ",".join(str(i) for i in range(count))


def run_job(job_id: str, settings: Settings) -> int:
    """Run one queued-and-started job to its end; returns the process exit code."""
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    job = store.get(job_id)
    run_dir = Path(job.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    import psutil

    me = psutil.Process()
    store.transition(job_id, JobState.RUNNING, pid=me.pid, pid_started=me.create_time())
    if job.kind == "evaluation" and job.spec.get("task") == "run_metrics":
        return measure_run(job, settings, store)
    if job.kind == "evaluation" and job.spec.get("task") == "evaluate":
        from mlcore.evaluation_job import run_evaluation

        return run_evaluation(job, settings, store)
    reporter = ProgressReporter(run_dir)
    try:
        spec = TrainSpec.from_dict(job.spec)
        dataset = load_dataset(Path(spec.dataset_path))
        data_yaml = stage_dataset(dataset, settings.outputs_root / paths.STAGING_DIR / job_id)

        from ultralytics import YOLO

        from mlcore.engine_env import use_all_cpu_cores

        continuing = spec.mode in ("resume", "extend")
        if continuing:
            weights = run_dir / "weights"
            checkpoint = weights / RESUMABLE if (weights / RESUMABLE).exists() else weights / "last.pt"
            if spec.mode == "extend":
                raise_epoch_count(checkpoint, spec.epochs)
            model = YOLO(str(checkpoint))
        elif spec.mode == "full":
            model = YOLO(f"{spec.model_architecture}.yaml")
        else:
            model = YOLO(spec.base_model_path)
        for event, callback in reporter.callbacks().items():
            model.add_callback(event, callback)
        model.add_callback("on_train_start", use_all_cpu_cores)
        device = ultralytics_device(job.device)
        if continuing:  # the checkpoint holds every other argument, and its run folder
            metrics = model.train(resume=True, data=str(data_yaml), device=device, workers=spec.workers)
        else:
            args = {**spec.to_ultralytics(), "device": device}
            metrics = model.train(
                data=str(data_yaml), project=str(run_dir.parent), name=run_dir.name, exist_ok=True, plots=True, **args
            )
        if (metrics is None or not hasattr(metrics, "box")) and (run_dir / "weights" / "best.pt").exists():
            # multi-GPU training validates in its ranks, not here: measure best.pt once more
            best = YOLO(str(run_dir / "weights" / "best.pt"))
            metrics = best.val(data=str(data_yaml), device=device.split(",")[0], batch=16, plots=False)
        if metrics is not None and hasattr(metrics, "box"):
            write_json_atomically(run_dir / METRICS_FILE, metrics_to_dict(metrics, dataset.names))
    except BaseException as exc:  # the job records why it ended; the log has the traceback
        traceback.print_exc()
        message = failure_message(exc, job.spec.get("batch_size"))
        try:
            store.transition(job_id, JobState.FAILED, error=message[:2000])
        except InvalidTransition:
            pass  # cancelled meanwhile: that state stands
        reporter.state = "failed"
        write_json_atomically(run_dir / PROGRESS_FILE, {"state": "failed", "error": message, "updated": time.time()})
        return 1
    reporter.state = "stopped" if (run_dir / STOP_FILE).exists() else "completed"
    progress = read_progress(run_dir)
    write_json_atomically(
        run_dir / PROGRESS_FILE,
        {**progress, "state": reporter.state, "percent": 100.0, "eta_s": None, "updated": time.time()},
    )
    current = store.get(job_id).state
    try:
        store.transition(job_id, JobState.COMPLETED, expect=current)
    except InvalidTransition:
        pass  # cancelled meanwhile: that state stands
    return 0


def measure_run(job: Any, settings: Settings, store: JobStore) -> int:
    """Validate a run's weights on its dataset's val split and write the numbers as its metrics.json."""
    spec = job.spec
    try:
        dataset = load_dataset(Path(spec["dataset_path"]))
        data_yaml = stage_dataset(dataset, settings.outputs_root / paths.STAGING_DIR / job.id)
        from ultralytics import YOLO

        model = YOLO(spec["weights"])
        metrics = model.val(
            data=str(data_yaml),
            imgsz=spec["imgsz"],
            batch=16,
            device=ultralytics_device(job.device),
            plots=False,
            project=str(settings.outputs_root / paths.STAGING_DIR / job.id),
            name="val",
            exist_ok=True,
        )
        names = {int(k): v for k, v in (getattr(model, "names", None) or dataset.names).items()}
        write_json_atomically(Path(spec["metrics_file"]), metrics_to_dict(metrics, names))
    except BaseException as exc:  # the job records why it ended; the log has the traceback
        traceback.print_exc()
        try:
            store.transition(job.id, JobState.FAILED, error=failure_message(exc, 16)[:2000])
        except InvalidTransition:
            pass
        return 1
    try:
        store.transition(job.id, JobState.COMPLETED, expect=JobState.RUNNING)
    except InvalidTransition:
        pass  # cancelled meanwhile: that state stands
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if len(sys.argv) != 2:
        sys.exit("usage: python -m mlcore.worker JOB_ID")
    sys.exit(run_job(sys.argv[1], load_settings()))
