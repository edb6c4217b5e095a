"""How every job ends, in one place: the job row's final state and the folder's progress.json.

A worker task returns normally when its work is done, or raises; `run_to_end` turns either into
COMPLETED or FAILED (with a message that says what to do) and the process exit code. A job that
was cancelled meanwhile keeps that state.

    return run_to_end(store, job, lambda: train(job, settings), batch_size=job.spec.get("batch_size"))
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.errors import InvalidTransition
from mlcore.core.paths import RunFolder
from mlcore.engine.metrics import failure_message
from mlcore.jobs.store import Job, JobState, JobStore, ProgressState


def fail_job(store: JobStore, job: Job, exc: BaseException, batch_size: Any = 16, progress: bool = True) -> int:
    """Record why the job failed (the traceback goes to its log); 1 as the exit code."""
    traceback.print_exc()
    message = failure_message(exc, batch_size)
    try:
        store.transition(job.id, JobState.FAILED, error=message[:2000])
    except InvalidTransition:
        pass  # cancelled meanwhile: that state stands
    if progress:
        failed = {"state": ProgressState.FAILED, "error": message, "updated": time.time()}
        write_json_atomically(RunFolder(Path(job.run_dir)).progress, failed)
    return 1


def complete_job(store: JobStore, job: Job) -> int:
    """The job did its work: COMPLETED, from whatever active state it is in now; 0 as the exit code."""
    current = store.get(job.id).state
    try:
        store.transition(job.id, JobState.COMPLETED, expect=current)
    except InvalidTransition:
        pass  # cancelled meanwhile: that state stands
    return 0


def run_to_end(store: JobStore, job: Job, work: Callable[[], None], batch_size: Any = 16, progress: bool = True) -> int:
    """Run the job's work, then record how it ended; the process exit code.

    `progress=False` for a job whose folder is another's (a run's metrics are measured into the run's
    folder, whose progress.json belongs to its training)."""
    try:
        work()
    except BaseException as exc:  # the job records why it ended; the log has the traceback
        return fail_job(store, job, exc, batch_size, progress)
    return complete_job(store, job)
