"""A job as scripts read it: the original system's status names, a progress percentage, metrics so far.

The job database knows more states than the original API had; scripts written for it wait for
`completed` or `failed`, so every state maps onto its five (`state` keeps the studio's own).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlcore.core.paths import RunFolder
from mlcore.evaluation.store import EvaluationUnreadable, evaluation_result
from mlcore.explain.store import explanation_result
from mlcore.export.store import ExportUnreadable, export_result
from mlcore.jobs.progress import read_progress
from mlcore.jobs.store import Job, JobState, JobStore
from mlcore.predict.store import prediction_result
from mlcore.runs.results import MAP50, MAP50_95, best_epoch, read_results
from mlcore.video.store import live_counts, tracking_result

STATUS = {
    JobState.QUEUED: "queued",
    JobState.STARTING: "running",
    JobState.RUNNING: "running",
    JobState.STOPPING: "running",
    JobState.COMPLETED: "completed",
    JobState.FAILED: "failed",
    JobState.CANCELLED: "cancelled",
    JobState.LOST: "failed",
}
RESULT_NAMES = {
    "metrics/precision(B)": "precision",
    "metrics/recall(B)": "recall",
    MAP50: "map50",
    MAP50_95: "map50_95",
    "train/box_loss": "train_box_loss",
    "train/cls_loss": "train_cls_loss",
    "train/dfl_loss": "train_dfl_loss",
    "val/box_loss": "val_box_loss",
    "val/cls_loss": "val_cls_loss",
    "val/dfl_loss": "val_dfl_loss",
}


def _number(value: Any) -> float | None:
    """A JSON-safe number: NaN and infinity (an epoch that detected nothing) become null."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _progress(job: Job) -> dict[str, Any]:
    """progress.json of an active or ended job; a queued one (e.g. a resume) has none of its own yet."""
    return read_progress(Path(job.run_dir)) if job.state is not JobState.QUEUED else {}


def _common(job: Job, store: JobStore, progress: dict[str, Any]) -> dict[str, Any]:
    percent = 100.0 if job.state is JobState.COMPLETED else _number(progress.get("percent")) or 0.0
    return {
        "status": STATUS[job.state],
        "state": job.state.value,
        "progress": percent,
        "queue_position": store.queue_position(job.id) if job.state is JobState.QUEUED else None,
        "output_dir": job.run_dir,
        "device": job.device,
        "owner": job.owner,
        "error": job.error,
        "created": job.created,
        "started": job.started,
        "ended": job.ended,
    }


def _completed_result(
    job: Job, read: Callable[[Path], dict[str, Any]], unreadable: type[Exception]
) -> dict[str, Any] | None:
    """What a completed job left in its folder (`read`); None before it completed or when it cannot be read."""
    if job.state is not JobState.COMPLETED:
        return None
    try:
        return read(Path(job.run_dir))
    except unreadable:
        return None


def training_status(job: Job, store: JobStore) -> dict[str, Any]:
    """A training: status, progress (%), epoch, the last epoch's metrics, the best epoch, its folder."""
    progress = _progress(job)
    data = _common(job, store, progress)
    folder = RunFolder(Path(job.run_dir))
    frame = read_results(folder.results_csv)
    last = frame.iloc[-1].to_dict() if not frame.empty else {}
    return {
        "training_id": job.id,
        **data,
        "mode": job.spec.get("mode"),
        "dataset_path": job.spec.get("dataset_path"),
        "model_architecture": job.spec.get("model_architecture"),
        "run": "/".join(Path(job.run_dir).parts[-2:]),
        "epoch": int(progress.get("epoch") or (last.get("epoch") or 0)),
        "epochs": int(progress.get("epochs") or job.spec.get("epochs") or 0),
        "epochs_done": len(frame),
        "eta_s": _number(progress.get("eta_s")) if data["status"] == "running" else None,
        "metrics": {name: _number(last[column]) for column, name in RESULT_NAMES.items() if column in last},
        "best_epoch": best_epoch(frame),
        "weights": {name: str(path) for name, path in (("best", folder.best), ("last", folder.last)) if path.is_file()},
    }


def evaluation_status(job: Job, store: JobStore) -> dict[str, Any]:
    """An evaluation: status, progress (%), and its metrics once it has completed."""
    progress = _progress(job)
    data = _common(job, store, progress)
    metrics = _completed_result(job, evaluation_result, EvaluationUnreadable)
    return {
        "evaluation_id": job.id,
        **data,
        "model_path": job.spec.get("model_path"),
        "test_dataset_path": job.spec.get("dataset_path"),
        "split": job.spec.get("split"),
        "batch": progress.get("batch"),
        "batches": progress.get("batches"),
        "metrics": metrics,
    }


def export_status(job: Job, store: JobStore) -> dict[str, Any]:
    """An export: status, progress (%), and once it has completed its formats with parity and latency."""
    progress = _progress(job)
    data = _common(job, store, progress)
    result = _completed_result(job, export_result, ExportUnreadable)
    return {
        "export_id": job.id,
        **data,
        "model_path": job.spec.get("model_path"),
        "step": progress.get("step"),
        "formats": result["formats"] if result else [],
        "stopped": bool(result and result["stopped"]),
    }


def prediction_status(job: Job, store: JobStore) -> dict[str, Any]:
    """A batch prediction: status, images done, and once it has ended its summary and files."""
    progress = _progress(job)
    data = _common(job, store, progress)
    result = prediction_result(Path(job.run_dir)) if job.state.is_final() else None
    return {
        "prediction_id": job.id,
        **data,
        "model_path": job.spec.get("model_path"),
        "source": job.spec.get("source"),
        "source_kind": job.spec.get("source_kind"),
        "done": progress.get("done"),
        "total": progress.get("total") or job.spec.get("expected_items"),
        "summary": result["summary"] if result else None,
        "files": result["files"] if result else {},
    }


def explanation_status(job: Job, store: JobStore) -> dict[str, Any]:
    """An explanation job: status and masks done, then each box's numbers with its overlay and map (base64 PNG)."""
    progress = _progress(job)
    result = explanation_result(Path(job.run_dir)) if job.state.is_final() else None
    return {
        "explanation_id": job.id,
        **_common(job, store, progress),
        "model_path": job.spec.get("model_path"),
        "image": job.spec.get("source_image"),
        "method": job.spec.get("method"),
        "masks": job.spec.get("masks"),
        "estimated_seconds": job.spec.get("estimated_seconds"),
        "step": progress.get("step"),
        "result": result,
    }


def tracking_status(job: Job, store: JobStore) -> dict[str, Any]:
    """A tracking job: status, frames done and their speed, counts so far while it runs, then its summary and files."""
    progress = _progress(job)
    result = tracking_result(Path(job.run_dir)) if job.state.is_final() else None
    return {
        "track_id": job.id,
        **_common(job, store, progress),
        "model_path": job.spec.get("model_path"),
        "source": job.spec.get("source"),
        "source_kind": job.spec.get("source_kind"),
        "tracker": job.spec.get("tracker"),
        "every_nth_frame": job.spec.get("every_nth_frame"),
        "lines": job.spec.get("lines"),
        "zones": job.spec.get("zones"),
        "warnings": job.spec.get("warnings") or [],
        "done": progress.get("done"),
        "total": progress.get("total") or job.spec.get("expected_frames"),
        "fps": progress.get("fps"),
        "live": None if job.state.is_final() else live_counts(Path(job.run_dir)),
        "summary": result["summary"] if result else None,
        "files": result["files"] if result else {},
    }
