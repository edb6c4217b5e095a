"""Submitting, stopping and cancelling trainings: what the page, the CLI and (later) the API call.

Every check that can fail is made before a process starts, with a message that says what to do:
the dataset must lie under the allowed roots and have no validation error, a base model must come
from a trusted folder, the experiment must not exist yet, and the disk must have room.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import yaml

from mlcore import paths
from mlcore.atomic_file import write_atomically
from mlcore.checkpoint import CheckpointError, CheckpointInfo, inspect_checkpoint
from mlcore.datasets import DatasetError
from mlcore.jobs import ACTIVE_STATES, InvalidTransition, Job, JobState, JobStore
from mlcore.runs import RunSummary, metrics_file
from mlcore.safe_paths import PathNotAllowed, nearest_existing, resolve_user_path
from mlcore.scheduler import is_alive, schedule
from mlcore.settings import PROJECT_ROOT, Settings
from mlcore.train_spec import TrainSpec
from mlcore.validation import ValidationOptions, validate
from mlcore.worker import CONFIG_FILE, RESUMABLE, STOP_FILE

MIN_FREE_DISK_GB = 1.0
CANCEL_GRACE_S = 10.0


class SubmitError(ValueError):
    """The training cannot be submitted; the message says why and what to do."""


def _store(settings: Settings) -> JobStore:
    return JobStore(settings.outputs_root / paths.JOBS_DB)


def trusted_model(path: str, settings: Settings) -> Path:
    """A .pt under the outputs' trainings or a configured model folder (a .pt file is code)."""
    roots = (settings.outputs_root / paths.TRAININGS_DIR, *settings.model_roots)
    try:
        model = resolve_user_path(path, roots, base=PROJECT_ROOT, what="model")
    except PathNotAllowed as exc:
        raise SubmitError(
            f"{exc} A .pt file is a pickle, which runs code when loaded: models load only from "
            "runs under the outputs folder or from ML_STUDIO_MODEL_ROOTS."
        ) from None
    if model.suffix != ".pt" or not model.is_file():
        raise SubmitError(f"{path} is not a .pt weights file; pick a run's weights/best.pt.")
    return model


def free_experiment_name(project: str, experiment: str, settings: Settings) -> str:
    """`experiment` if no run has it yet in `project`, else the first free `experiment-2`, `-3`, ..."""
    base = settings.outputs_root / paths.TRAININGS_DIR / project
    if not (base / experiment).exists():
        return experiment
    stem = experiment[:60]
    return next(f"{stem}-{n}" for n in range(2, 10_000) if not (base / f"{stem}-{n}").exists())


def submit_training(spec: TrainSpec, settings: Settings, owner: str = "local", allow_warnings: bool = True) -> Job:
    """Check everything, write training_config.yaml, queue the job, and run a scheduling step."""
    if spec.mode == "resume":
        return resume_training(spec.resume_from or "", settings, owner=owner)
    try:
        dataset = resolve_user_path(spec.dataset_path, settings.dataset_roots, base=PROJECT_ROOT)
    except PathNotAllowed as exc:
        raise SubmitError(str(exc)) from None
    try:
        report = validate(
            dataset, ValidationOptions(near_duplicates=False, imgsz=spec.imgsz), cache_path=settings.image_facts_cache
        )
    except DatasetError as exc:
        raise SubmitError(f"the dataset cannot be read: {exc}") from None
    errors = [i for i in report.issues if i.severity == "error"]
    if errors:
        first = errors[0]
        raise SubmitError(
            f"the dataset has {len(errors)} validation error(s), e.g. {first.code} at "
            f"{first.path}: {first.message} Fix them (see the Dataset validation page) and submit again."
        )
    if not allow_warnings and report.severity_counts()["warning"]:
        raise SubmitError("the dataset has validation warnings; review them on the Dataset validation page.")
    base_model = str(trusted_model(spec.base_model_path, settings)) if spec.mode == "transfer" else None
    experiment = spec.experiment or f"exp-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir = settings.outputs_root / paths.TRAININGS_DIR / spec.project / experiment
    if run_dir.exists():
        raise SubmitError(
            f"experiment '{experiment}' already exists in project '{spec.project}'; pick another name "
            f"(e.g. '{free_experiment_name(spec.project, experiment, settings)}'), or leave it empty for a dated one."
        )
    free_gb = shutil.disk_usage(nearest_existing(settings.outputs_root)).free / 1024**3
    if free_gb < MIN_FREE_DISK_GB:
        raise SubmitError(
            f"only {free_gb:.1f} GiB free under {settings.outputs_root}: a training needs room for "
            "weights and logs; free some space first."
        )
    final = replace(
        spec, dataset_path=str(dataset), experiment=experiment, base_model_path=base_model or spec.base_model_path
    )
    run_dir.mkdir(parents=True)
    (run_dir / CONFIG_FILE).write_text(yaml.safe_dump(final.to_dict(), sort_keys=False))
    job = _store(settings).submit("training", final.to_dict(), str(run_dir), owner=owner)
    schedule(settings)
    return _store(settings).get(job.id)


def _continuable(run: str, settings: Settings) -> tuple[Path, TrainSpec, Path, CheckpointInfo]:
    """The run folder, its spec, its checkpoint and what that says, for resume and extend."""
    trainings = settings.outputs_root / paths.TRAININGS_DIR
    try:
        run_dir = resolve_user_path(run, [trainings], base=trainings, what="run")
    except PathNotAllowed as exc:
        raise SubmitError(f"{exc} Name a run as project/experiment (see `python -m mlcore jobs list`).") from None
    if any(Path(j.run_dir) == run_dir for j in _store(settings).list(ACTIVE_STATES | {JobState.QUEUED})):
        raise SubmitError(f"{run} is already running or queued.")
    try:
        spec = TrainSpec.from_dict(yaml.safe_load((run_dir / CONFIG_FILE).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise SubmitError(f"{run} has no readable {CONFIG_FILE} ({exc}); it was not started by the studio.") from None
    weights = run_dir / "weights"
    checkpoint = weights / RESUMABLE if (weights / RESUMABLE).exists() else weights / "last.pt"
    try:
        info = inspect_checkpoint(checkpoint, settings)
    except CheckpointError as exc:
        raise SubmitError(str(exc)) from None
    return run_dir, spec, checkpoint, info


def resume_training(run: str, settings: Settings, owner: str = "local") -> Job:
    """Continue an interrupted run from its checkpoint, into the same folder (results.csv continues)."""
    run_dir, spec, checkpoint, info = _continuable(run, settings)
    if not info.resumable:
        raise SubmitError(
            f"{checkpoint.name} was finalised when the training ended: nothing to resume. To train "
            "more epochs, start a transfer from its weights/best.pt."
        )
    if info.finished:
        raise SubmitError(
            f"the run already finished all {info.epochs} epochs: nothing to resume. To train more "
            f"epochs, extend it: python -m mlcore extend {run} --epochs N"
        )
    resumed = replace(spec, mode="resume", resume_from=str(run_dir))
    job = _store(settings).submit("training", resumed.to_dict(), str(run_dir), owner=owner)
    schedule(settings)
    return _store(settings).get(job.id)


def extend_training(run: str, more_epochs: int, settings: Settings, owner: str = "local") -> Job:
    """Train `more_epochs` more epochs on a finished, stopped or interrupted run, in the same folder.

    A true continuation: the worker raises the epoch count inside the run's kept resumable
    checkpoint (weights, EMA, optimizer state, best fitness) and resumes it, so results.csv shows
    both parts as one history and best.pt is replaced only by a better epoch. The learning-rate
    schedule is recomputed for the new total, so the rate rises a little where the extension starts
    instead of restarting with a warm-up.
    """
    if not isinstance(more_epochs, int) or isinstance(more_epochs, bool) or more_epochs < 1:
        raise SubmitError(f"epochs={more_epochs!r}; give how many more epochs to train, at least 1 (e.g. 20).")
    run_dir, spec, checkpoint, info = _continuable(run, settings)
    if not info.resumable:
        raise SubmitError(
            f"{run} kept no resumable checkpoint (its {checkpoint.name} has no optimizer state; the run was "
            "made elsewhere or before the studio kept one). Start a transfer from its weights/best.pt "
            f"with {more_epochs} epochs instead."
        )
    total = info.epoch + 1 + more_epochs
    extended = replace(spec, mode="extend", resume_from=str(run_dir), epochs=total)
    write_atomically(
        run_dir / CONFIG_FILE, yaml.safe_dump(replace(spec, epochs=total).to_dict(), sort_keys=False).encode()
    )
    job = _store(settings).submit("training", extended.to_dict(), str(run_dir), owner=owner)
    schedule(settings)
    return _store(settings).get(job.id)


class NotYourJob(PermissionError):
    """Someone other than the job's owner (and not an admin) asked to stop or cancel it."""


def _check_actor(job: Job, actor: str, settings: Settings, action: str) -> None:
    if actor != job.owner and actor not in settings.admins:
        raise NotYourJob(
            f"job {job.id} was started by {job.owner}; only they or an admin (ML_STUDIO_ADMINS) can {action} it."
        )


def stop_job(job_id: str, settings: Settings, actor: str = "local") -> Job:
    """Finish gracefully: stop after the current batch, validate, keep finalised weights."""
    store = _store(settings)
    job = store.get(job_id)
    _check_actor(job, actor, settings, "stop")
    if job.state is JobState.QUEUED:
        return cancel_job(job_id, settings, actor=actor)
    if job.state is not JobState.RUNNING:
        raise InvalidTransition(f"job {job_id} is {job.state.value}; only a running job can be stopped.")
    (Path(job.run_dir) / STOP_FILE).write_text("stop requested\n")
    job = store.transition(job_id, JobState.STOPPING, expect=JobState.RUNNING)
    store.record(job_id, actor, "stopped")
    return job


def cancel_job(job_id: str, settings: Settings, grace_s: float = CANCEL_GRACE_S, actor: str = "local") -> Job:
    """End now: SIGTERM to the worker's process group, SIGKILL after the grace period."""
    store = _store(settings)
    job = store.get(job_id)
    _check_actor(job, actor, settings, "cancel")
    if job.state.is_final():
        raise InvalidTransition(f"job {job_id} is already {job.state.value}.")
    store.record(job_id, actor, "cancelled")
    if job.state in ACTIVE_STATES and is_alive(job.pid, job.pid_started):
        pgid = os.getpgid(job.pid)  # the worker leads its own session and group
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while is_alive(job.pid, job.pid_started) and time.monotonic() < deadline:
            time.sleep(0.1)
        try:
            os.killpg(pgid, signal.SIGKILL)  # whatever is left of the group
        except ProcessLookupError:
            pass
    try:
        job = store.transition(job_id, JobState.CANCELLED)
    except InvalidTransition:
        job = store.get(job_id)  # it ended by itself meanwhile
    schedule(settings)  # the freed device may start the next job
    return job


def compute_metrics(run: RunSummary, settings: Settings, owner: str = "local") -> Job:
    """Queue a validation of the run's best weights on its dataset's val split, to write its metrics.json.

    For runs finished before metrics.json existed, or made elsewhere and attached; an attached run's
    folder is never written to (its metrics go under the outputs root)."""
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
    pending = _store(settings).list({JobState.QUEUED} | ACTIVE_STATES, kind="evaluation")
    if any(j.spec.get("metrics_file") == str(target) for j in pending):
        raise SubmitError(f"the metrics of {run.name} are already being computed.")
    target.parent.mkdir(parents=True, exist_ok=True)
    spec = {
        "task": "run_metrics",
        "weights": str(model),
        "dataset_path": str(dataset),
        "imgsz": int(run.spec.get("imgsz") or 640),
        "device": "auto",
        "metrics_file": str(target),
        "run": run.name,
    }
    job = _store(settings).submit("evaluation", spec, str(target.parent), owner=owner)
    schedule(settings)
    return _store(settings).get(job.id)
