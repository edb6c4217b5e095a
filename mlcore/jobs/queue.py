"""Putting a job in the queue, for every kind: the executor's check at submit, the row, the first step.

    job = enqueue(settings, JobKind.EXPORT, spec, folder, owner, made=folder)

A job the executor could never run (more GPUs than any node of the cluster has) is refused here, before it
is queued, and the folder the caller made for it (`made`) is removed again.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.scheduler import schedule, target_executor
from mlcore.jobs.store import Job, open_store


def enqueue(
    settings: Settings, kind: JobKind, spec: dict[str, Any], run_dir: Path | str, owner: str, made: Path | None = None
) -> Job:
    """Queue the job and take a scheduling step (which may start it at once); the job as it is then."""
    refusal = target_executor(settings).refusal(spec)
    if refusal:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise SubmitError(refusal)
    store = open_store(settings)
    job = store.submit(kind, spec, str(run_dir), owner=owner)
    schedule(settings)
    return store.get(job.id)
