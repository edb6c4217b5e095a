"""The worker: runs one job in its own process, started detached by the scheduler.

    python -m mlcore.worker JOB_ID

It marks the job running and hands it to the task its kind names (TASKS); the task writes into the
job's folder and records how the job ended. Nothing imports this module: it is an entry point.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from mlcore.core.settings import Settings, load_settings
from mlcore.engine.env import silence_runtime_telemetry
from mlcore.evaluation import task as evaluation_task
from mlcore.export import task as export_task
from mlcore.jobs.scheduler import refresh
from mlcore.jobs.store import Job, JobState, JobStore, open_store
from mlcore.predict import task as predict_task
from mlcore.predict.submit import PREDICTION_KIND
from mlcore.runs import measure
from mlcore.training import task as training_task

Task = Callable[[Job, Settings, JobStore], int]

# (job kind, the spec's "task") -> the function that runs it
TASKS: dict[tuple[str, str | None], Task] = {
    ("training", None): training_task.run,
    ("evaluation", evaluation_task.TASK): evaluation_task.run,
    ("evaluation", measure.TASK): measure.run,
    ("export", export_task.TASK): export_task.run,
    (PREDICTION_KIND, predict_task.TASK): predict_task.run,
}


def run_job(job_id: str, settings: Settings) -> int:
    """Run one queued-and-started job to its end; returns the process exit code."""
    store = open_store(settings)
    job = store.get(job_id)
    task = TASKS.get((job.kind, job.spec.get("task")))
    Path(job.run_dir).mkdir(parents=True, exist_ok=True)
    import psutil

    me = psutil.Process()
    store.transition(job_id, JobState.RUNNING, pid=me.pid, pid_started=me.create_time())
    if task is None:
        known = ", ".join(f"{kind}/{name or '-'}" for kind, name in TASKS)
        message = f"this studio cannot run a {job.kind} job with task {job.spec.get('task')!r} (it runs {known})."
        store.transition(job_id, JobState.FAILED, error=message)
        return 1
    code = task(store.get(job_id), settings, store)
    refresh(settings)  # a finishing worker advances the queue: the device it held may start the next job
    return code


if __name__ == "__main__":
    silence_runtime_telemetry()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if len(sys.argv) != 2:
        sys.exit("usage: python -m mlcore.worker JOB_ID")
    sys.exit(run_job(sys.argv[1], load_settings()))
