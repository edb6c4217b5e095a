"""Starting, resuming, stopping and cancelling studies, and reading one: what the page, the CLI and the API call.

job = start_study(TuneSpec(study="logos-lr", dataset_path="ml_outputs/datasets/demo", trials=20), settings)
report = study_report("logos-lr", settings)   # trials, best so far, the storage Optuna opens
stop_study("logos-lr", settings)               # no new trials; the running ones finish
cancel_study("logos-lr", settings)             # the coordinator and every running trial end now
job = resume_study("logos-lr", settings)       # an interrupted study goes on where it was
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.errors import InvalidTransition, JobNotFound, SubmitError
from mlcore.core.paths import RunFolder
from mlcore.core.safe_paths import trusted_model
from mlcore.core.settings import LOCAL_USER, Settings
from mlcore.devices.leases import NO_DEVICE
from mlcore.jobs.control import cancel_job, check_actor, stop_job
from mlcore.jobs.kinds import JobKind, JobTask
from mlcore.jobs.progress import read_progress
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import OPEN_STATES, Job, open_store
from mlcore.training.spec import NAME_PATTERN
from mlcore.training.submit import checked_dataset
from mlcore.tuning.spec import TuneSpec
from mlcore.tuning.study import JOB_ATTR, StudyFolder, best_row, create_study, open_study, record_failure, trial_rows


class StudyNotFound(SubmitError):
    """No study of that name under the outputs."""


def folder_of(name: str, settings: Settings) -> StudyFolder:
    if not NAME_PATTERN.match(name or ""):
        raise StudyNotFound(f"{name!r} is not a study name (letters, digits, '_', '-', '.').")
    folder = StudyFolder.of(name, settings)
    if not folder.exists():
        known = ", ".join(study_names(settings)[:10]) or "none yet"
        raise StudyNotFound(f"there is no study {name!r} (studies: {known}); start one with `python -m mlcore tune`.")
    return folder


def study_names(settings: Settings) -> list[str]:
    """Every study under the outputs, newest first."""
    root = settings.outputs_root / paths.TUNING_DIR
    found = [StudyFolder(p) for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    return [
        f.name for f in sorted((f for f in found if f.exists()), key=lambda f: f.journal.stat().st_mtime, reverse=True)
    ]


def free_study_name(name: str, settings: Settings) -> str:
    return next(
        f"{name[:60]}-{n}" for n in range(2, 10_000) if not StudyFolder.of(f"{name[:60]}-{n}", settings).path.exists()
    )


def coordinator_of(folder: StudyFolder, settings: Settings, states: frozenset | set | None = None) -> Job | None:
    """The study's newest coordinator job (in `states`, when given)."""
    job = open_store(settings).latest(folder.path, JobKind.TUNING)
    return job if job is not None and (states is None or job.state in states) else None


def start_study(spec: TuneSpec, settings: Settings, owner: str = LOCAL_USER) -> Job:
    """Check the study, write its folder and its Optuna study, and queue its coordinator."""
    folder = StudyFolder.of(spec.study, settings)
    if folder.path.exists():
        hint = (
            f"resume it with `python -m mlcore tune resume {spec.study}`" if folder.exists() else "remove that folder"
        )
        raise SubmitError(
            f"a study named {spec.study!r} exists already ({_trials_line(folder)}); {hint}, or pick another name "
            f"(e.g. {free_study_name(spec.study, settings)!r})."
        )
    dataset = checked_dataset(spec.dataset_path, spec.imgsz, settings)
    base = str(trusted_model(spec.base_model_path, settings)) if spec.base_model_path else None
    final = replace(spec.with_default_space(), dataset_path=str(dataset), base_model_path=base)
    folder.path.mkdir(parents=True)
    try:
        folder.config.write_text(yaml.safe_dump(final.to_dict(), sort_keys=False))
        create_study(folder, final)
    except BaseException:
        shutil.rmtree(folder.path, ignore_errors=True)
        raise
    return _queue(folder, settings, owner, made=folder.path)


def resume_study(name: str, settings: Settings, owner: str = LOCAL_USER) -> Job:
    """Queue the coordinator of an interrupted or stopped study again: it takes up its running trials and goes on
    until the budget is spent."""
    folder = folder_of(name, settings)
    if coordinator_of(folder, settings, OPEN_STATES) is not None:
        raise SubmitError(f"study {name!r} is running already; stop it first, or follow it with `tune status {name}`.")
    RunFolder(folder.path).stop_request.unlink(missing_ok=True)
    return _queue(folder, settings, owner)


def _queue(folder: StudyFolder, settings: Settings, owner: str, made: Path | None = None) -> Job:
    spec = {"task": JobTask.STUDY, "device": NO_DEVICE, "study": folder.name}
    return enqueue(settings, JobKind.TUNING, spec, folder.path, owner, made=made)


def stop_study(name: str, settings: Settings, actor: str = LOCAL_USER) -> Job:
    """No new trials; the running trials finish their epochs, then the study ends."""
    folder = folder_of(name, settings)
    job = coordinator_of(folder, settings, OPEN_STATES)
    if job is None:
        raise InvalidTransition(f"study {name!r} is not running; resume it with `python -m mlcore tune resume {name}`.")
    return stop_job(job.id, settings, actor=actor)


def cancel_study(name: str, settings: Settings, actor: str = LOCAL_USER) -> Job | None:
    """End the coordinator and every running trial now; the trials are recorded as failed (cancelled)."""
    import optuna

    folder = folder_of(name, settings)
    job = coordinator_of(folder, settings)
    if job is not None:
        check_actor(job, actor, settings, "cancel")
    if job is not None and not job.state.is_final():
        job = cancel_job(job.id, settings, actor=actor)
    study = open_study(folder)
    store = open_store(settings)
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        trial_job = trial.user_attrs.get(JOB_ATTR)
        try:
            if trial_job and not store.get(trial_job).state.is_final():
                cancel_job(trial_job, settings, actor=actor)
        except (JobNotFound, InvalidTransition):
            pass
        record_failure(study, trial.number, "cancelled with the study")
    return job


def _trials_line(folder: StudyFolder) -> str:
    if not folder.exists():
        return "a folder without a study journal"
    rows = trial_rows(open_study(folder))
    best = best_row(rows)
    return f"{len(rows)} trial(s)" + (f", best {best['value']:.4f}" if best else "")


def study_report(name: str, settings: Settings) -> dict[str, Any]:
    """The study as one document: its state, budget, trials and best, and the storage Optuna opens."""
    folder = folder_of(name, settings)
    spec = folder.spec()
    rows = trial_rows(open_study(folder, spec))
    store = open_store(settings)
    for row in rows:  # a running trial's training may still be queued
        if row["state"] == "running" and row["job"]:
            try:
                row["job_state"] = store.get(row["job"]).state.value
            except JobNotFound:
                row["job_state"] = None
    job = coordinator_of(folder, settings)
    best = best_row(rows)
    progress = read_progress(folder.path)
    return {
        "study": spec.study,
        "state": job.state.value if job else "not started",
        "job": job.id if job else None,
        "error": job.error if job else None,
        "folder": str(folder.path),
        "storage": str(folder.journal),
        "load": (
            f"optuna.load_study(study_name={spec.study!r}, storage=optuna.storages.JournalStorage("
            f"optuna.storages.journal.JournalFileBackend({str(folder.journal)!r})))"
        ),
        "objective": spec.objective,
        "budget": {"trials": spec.trials, "hours": spec.hours, "epochs": spec.epochs},
        "elapsed_s": progress.get("study_elapsed_s"),
        "percent": progress.get("percent"),
        "best_value": best["value"] if best else None,
        "best_params": best["params"] if best else None,
        "best_run": best["run"] if best else None,
        "best_trial": best["number"] if best else None,
        "counts": {
            state: sum(1 for r in rows if r["state"] == state) for state in ("running", "complete", "pruned", "failed")
        },
        "trials": rows,
        "spec": spec.to_dict(),
    }


def best_training_fields(report: dict[str, Any]) -> dict[str, Any] | None:
    """The TrainSpec fields of a full-length training with the study's best parameters (the Training page's
    "Train with the best"); None while no trial is complete."""
    from mlcore.tuning.space import train_fields
    from mlcore.tuning.spec import ARCHITECTURE_PARAM

    params = dict(report.get("best_params") or {})
    if not report.get("best_params"):
        return None
    spec = report["spec"]
    architecture = params.pop(ARCHITECTURE_PARAM, spec["architectures"][0])
    fields = {
        "mode": "transfer" if spec.get("base_model_path") else "full",
        "dataset_path": spec["dataset_path"],
        "model_architecture": architecture,
        "base_model_path": spec.get("base_model_path"),
        "batch_size": spec["batch_size"],
        "imgsz": spec["imgsz"],
        **train_fields(params),
    }
    fields["advanced"] = {**spec.get("advanced", {}), **fields["advanced"]}
    if "learning_rate" in fields and "optimizer" not in fields:
        from mlcore.tuning.coordinator import FALLBACK_OPTIMIZER

        fields["optimizer"] = FALLBACK_OPTIMIZER
    return fields
