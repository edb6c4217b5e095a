"""A run's metrics: its best weights measured on its dataset's val split, written as its metrics.json.

For runs finished before metrics.json existed, or made elsewhere and attached; an attached run's
folder is never written to (its metrics go under the outputs root). `compute_metrics` queues the
job; `run` is its worker task.
"""

from __future__ import annotations

from pathlib import Path

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.class_names import class_names
from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path, trusted_model
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.core.spec import DEFAULT_IMGSZ
from mlcore.datasets.loader import load_dataset
from mlcore.datasets.staging import stage_dataset
from mlcore.devices.leases import ultralytics_device
from mlcore.engine.metrics import metrics_to_dict
from mlcore.engine.models import load_yolo
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.kinds import JobKind, JobTask
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import ACTIVE_STATES, Job, JobState, JobStore, open_store
from mlcore.runs.store import RunSummary, metrics_file


def compute_metrics(run: RunSummary, settings: Settings, owner: str = "local") -> Job:
    """Queue a validation of the run's best weights on its dataset's val split, to write its metrics.json."""
    weights = next(iter(run.weights), None)
    if weights is None:
        raise SubmitError(f"{run.name} has no weights/best.pt or last.pt to measure.")
    model = trusted_model(str(weights), settings)
    try:
        dataset = resolve_user_path(str(run.spec.get("dataset_path") or ""), settings.dataset_roots, base=PROJECT_ROOT)
    except PathNotAllowed as exc:
        raise SubmitError(
            f"the run's dataset cannot be used: {exc} Add its folder to ML_STUDIO_DATASET_ROOTS to measure it."
        ) from None
    target = metrics_file(run, settings)
    store = open_store(settings)
    pending = store.list({JobState.QUEUED} | ACTIVE_STATES, kind=JobKind.EVALUATION)
    if any(j.spec.get("metrics_file") == str(target) for j in pending):
        raise SubmitError(f"the metrics of {run.name} are already being computed.")
    target.parent.mkdir(parents=True, exist_ok=True)
    spec = {
        "task": JobTask.RUN_METRICS,
        "weights": str(model),
        "dataset_path": str(dataset),
        "imgsz": int(run.spec.get("imgsz") or DEFAULT_IMGSZ),
        "device": "auto",
        "metrics_file": str(target),
        "run": run.name,
    }
    return enqueue(settings, JobKind.EVALUATION, spec, target.parent, owner)


def run(job: Job, settings: Settings, store: JobStore) -> int:
    """Validate a run's weights on its dataset's val split and write the numbers as its metrics.json."""
    # the job's folder is the run's own: its progress.json belongs to the training
    return run_to_end(store, job, lambda: measure(job, settings), progress=False)


def measure(job: Job, settings: Settings) -> None:
    spec = job.spec
    dataset = load_dataset(Path(spec["dataset_path"]))
    staging = settings.outputs_root / paths.STAGING_DIR / job.id
    data_yaml = stage_dataset(dataset, staging)
    model = load_yolo(spec["weights"])
    metrics = model.val(
        data=str(data_yaml),
        imgsz=spec["imgsz"],
        batch=16,
        device=ultralytics_device(job.device),
        plots=False,
        project=str(staging),
        name="val",
        exist_ok=True,
    )
    names = class_names(getattr(model, "names", None) or dataset.names)
    write_json_atomically(Path(spec["metrics_file"]), metrics_to_dict(metrics, names))
