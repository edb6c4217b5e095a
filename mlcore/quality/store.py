"""Reading data-quality jobs back: each one's state and progress, then its result file once it completed.

report = quality_report(job, store)   # {"id", "kind", "state", "progress", "result": {...} or None, ...}
quality_jobs(settings, JobKind.AUDIT)  # the audits a user started, newest first
audit_result(folder)                  # audit.json; QualityUnreadable while the audit has not completed
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlcore.core.errors import InvalidTransition
from mlcore.core.settings import Settings
from mlcore.engine.trained_size import SizeChoice
from mlcore.jobs.control import cancel_job
from mlcore.jobs.kinds import KINDS, JobKind, JobTask
from mlcore.jobs.progress import read_progress
from mlcore.jobs.store import Job, JobStore, jobs_of, open_store
from mlcore.quality.kfold import fold_check_of, fold_jobs


class QualityUnreadable(Exception):
    """The job's result file is missing or unreadable (the job has not completed)."""


def _read(folder: Path, name: str) -> dict[str, Any]:
    try:
        return json.loads((folder / name).read_text())
    except (OSError, ValueError) as exc:
        raise QualityUnreadable(f"{folder / name} cannot be read ({exc}); the job has not completed.") from None


def audit_result(folder: Path) -> dict[str, Any]:
    return _read(folder, KINDS[JobKind.AUDIT].result)


def selection_result(folder: Path) -> dict[str, Any]:
    return _read(folder, KINDS[JobKind.SELECTION].result)


def drift_result(folder: Path) -> dict[str, Any]:
    return _read(folder, KINDS[JobKind.DRIFT].result)


def quality_jobs(settings: Settings, kind: JobKind) -> list[Job]:
    """The jobs a user started, newest first: for a K-fold audit its coordinator, not the audit it queued."""
    return [
        j
        for j in reversed(jobs_of(settings, kind))
        if not (j.spec.get("task") == JobTask.AUDIT and j.spec.get("folds"))
    ]


def report_of(job: Job, settings: Settings) -> dict[str, Any]:
    """`quality_report` for a caller that holds no job store (the page)."""
    return quality_report(job, open_store(settings))


def job_of(job_id: str, settings: Settings) -> Job:
    return open_store(settings).get(job_id)


def quality_report(job: Job, store: JobStore) -> dict[str, Any]:
    """The job as the CLI, the API and the page show it."""
    folder = Path(job.run_dir)
    report: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind,
        "state": job.state.value,
        "error": job.error,
        "folder": str(folder),
        "created": job.created,
        "spec": {k: v for k, v in job.spec.items() if k not in ("fold_images", "folds")},
        "progress": read_progress(folder),
        "result": None,
        "size": size.to_dict() if (size := SizeChoice.of(job.spec)) else None,
    }
    if job.kind == JobKind.AUDIT and job.spec.get("fold_datasets"):
        folds = fold_jobs(folder)
        report["folds"] = [{"job": i, "state": store.get(i).state.value} for i in folds["trainings"]]
        report["fold_check"] = fold_check_of(folder)  # the fold models' figures beside the audited model's
    try:
        report["result"] = _read(folder, KINDS[job.kind].result)
    except QualityUnreadable:
        pass
    return report


def cancel_quality_job(job_id: str, settings: Settings, actor: str = "local") -> Job:
    """Cancel the job; for a K-fold audit also its fold trainings and the audit it queued."""
    store = open_store(settings)
    job = cancel_job(job_id, settings, actor=actor)
    children = fold_jobs(Path(job.run_dir)) if job.kind == JobKind.AUDIT else {"trainings": [], "audit": None}
    for child in [*children["trainings"], children.get("audit")]:
        if child and not store.get(child).state.is_final():
            try:
                cancel_job(child, settings, actor=actor)
            except InvalidTransition:
                pass  # it ended by itself meanwhile
    return store.get(job.id)
