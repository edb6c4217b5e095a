"""Stop and Cancel, for every kind of job, with the owner check and the audit trail.

stop_job(job_id, settings, actor=user)    # finish after the current batch, weights kept (the worker's flag)
cancel_job(job_id, settings, actor=user)  # end now: its executor ends the worker and all it started
"""

from __future__ import annotations

from pathlib import Path

from mlcore.core.errors import InvalidTransition, NotYourJob
from mlcore.core.paths import RunFolder
from mlcore.core.settings import Settings
from mlcore.jobs.kinds import KINDS
from mlcore.jobs.scheduler import executor_of, schedule
from mlcore.jobs.store import ACTIVE_STATES, Job, JobState, open_store

CANCEL_GRACE_S = 10.0


def check_actor(job: Job, actor: str, settings: Settings, action: str) -> None:
    """Only the job's owner or an admin may stop or cancel it."""
    if actor != job.owner and actor not in settings.admins:
        raise NotYourJob(
            f"job {job.id} was started by {job.owner}; only they or an admin (ML_STUDIO_ADMINS) can {action} it."
        )


def stop_job(job_id: str, settings: Settings, actor: str = "local") -> Job:
    """Finish gracefully: a training stops after the current batch, validates and keeps finalised weights; an
    export ends after its current step and keeps the formats it completed."""
    store = open_store(settings)
    job = store.get(job_id)
    check_actor(job, actor, settings, "stop")
    if job.state is JobState.QUEUED:
        return cancel_job(job_id, settings, actor=actor)
    if not KINDS[job.kind].stoppable:
        raise InvalidTransition(
            f"job {job_id} is an {job.kind}, which has nothing to keep half-way: cancel it instead."
        )
    if job.state is not JobState.RUNNING:
        raise InvalidTransition(f"job {job_id} is {job.state.value}; only a running job can be stopped.")
    RunFolder(Path(job.run_dir)).stop_request.write_text("stop requested\n")
    job = store.transition(job_id, JobState.STOPPING, expect=JobState.RUNNING)
    store.record(job_id, actor, "stopped")
    return job


def cancel_job(job_id: str, settings: Settings, grace_s: float = CANCEL_GRACE_S, actor: str = "local") -> Job:
    """End now: on this machine SIGTERM to the worker's process group and SIGKILL after the grace period; on
    Ray, its stop_job (the same to the job's process tree, SIGKILL after 3 s)."""
    store = open_store(settings)
    job = store.get(job_id)
    check_actor(job, actor, settings, "cancel")
    if job.state.is_final():
        raise InvalidTransition(f"job {job_id} is already {job.state.value}.")
    store.record(job_id, actor, "cancelled")
    if job.state in ACTIVE_STATES:
        executor = executor_of(job, settings)
        if executor is not None:
            try:
                executor.cancel(job, grace_s)  # the worker and every process it started, on whichever machine
            except OSError as exc:
                raise InvalidTransition(f"job {job_id} could not be cancelled now: {exc}") from exc
    try:
        job = store.transition(job_id, JobState.CANCELLED)
    except InvalidTransition:
        job = store.get(job_id)  # it ended by itself meanwhile
    schedule(settings)  # the freed device may start the next job
    return job
