"""The worker: runs one job in its own process, started detached by the scheduler.

    python -m mlcore.worker JOB_ID

It marks the job running and hands it to the task its kind names (TASKS); the task writes into the
job's folder and records how the job ended. Nothing imports this module: it is an entry point.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlcore.cluster.environment import RAY_EXECUTOR, RAY_THREAD_LIMITS
from mlcore.core.settings import ENV_EXECUTOR, Settings, drop_environment, load_settings
from mlcore.devices.leases import CPU, NO_DEVICE, Lease
from mlcore.engine.env import silence_runtime_telemetry
from mlcore.evaluation import task as evaluation_task
from mlcore.explain import task as explain_task
from mlcore.export import task as export_task
from mlcore.export.openvino_runtime import install as pin_openvino_precision
from mlcore.jobs.kinds import JobKind, JobTask
from mlcore.jobs.scheduler import refresh
from mlcore.jobs.store import Job, JobState, JobStore, open_store
from mlcore.pipelines import coordinator as pipeline_coordinator
from mlcore.predict import task as predict_task
from mlcore.quality import audit_task, drift_task, kfold, selection_task
from mlcore.runs import measure
from mlcore.storage.locations import StorageError
from mlcore.storage.node_copies import on_this_node
from mlcore.storage.push import push_results
from mlcore.training import task as training_task
from mlcore.tuning import coordinator
from mlcore.tuning import trial as trial_task
from mlcore.video import task as tracking_task

Task = Callable[[Job, Settings, JobStore], int]

# (job kind, the spec's "task") -> the function that runs it
TASKS: dict[tuple[JobKind, JobTask | None], Task] = {
    (JobKind.TRAINING, None): training_task.run,
    (JobKind.EVALUATION, JobTask.EVALUATE): evaluation_task.run,
    (JobKind.EVALUATION, JobTask.RUN_METRICS): measure.run,
    (JobKind.EXPORT, JobTask.EXPORT): export_task.run,
    (JobKind.PREDICTION, JobTask.PREDICT): predict_task.run,
    (JobKind.TUNING, JobTask.STUDY): coordinator.run,
    (JobKind.AUDIT, JobTask.AUDIT): audit_task.run,
    (JobKind.AUDIT, JobTask.KFOLD): kfold.run,
    (JobKind.SELECTION, JobTask.SELECT): selection_task.run,
    (JobKind.DRIFT, JobTask.DRIFT): drift_task.run,
    (JobKind.PIPELINE, JobTask.PIPELINE): pipeline_coordinator.run,
    (JobKind.EXPLANATION, JobTask.EXPLAIN): explain_task.run,
    (JobKind.TRACKING, JobTask.TRACK): tracking_task.run,
}


def task_for(job: Job) -> Task | None:
    """The function that runs `job`: its kind's and task's, and for a tuning trial the training that reports."""
    if job.kind == JobKind.TRAINING and job.spec.get("trial"):
        return trial_task.run
    return TASKS.get((job.kind, job.spec.get("task")))


def device_on_node(job: Job, settings: Settings) -> str:
    """On a Ray node: the lease of the GPUs Ray gave the job (the node's own indices), or the CPU. A job that
    asked for "auto" runs on the CPU when PyTorch sees no CUDA device there (a node that declared GPUs it
    does not have); one that asked for GPUs by number fails in the engine with its own message."""
    if job.device == NO_DEVICE:
        return NO_DEVICE
    given = settings.environment.get("CUDA_VISIBLE_DEVICES", "")
    visible = [int(i) for i in given.split(",") if i.strip().isdigit()]
    if not visible:
        return CPU
    import torch

    if job.spec.get("device", "auto") == "auto" and not torch.cuda.is_available():
        print(f"Ray gave this job GPU {visible}, but PyTorch on this node sees no CUDA device: it runs on the CPU.")
        return CPU
    return str(Lease.of_gpus(visible))


def run_job(job_id: str, settings: Settings) -> int:
    """Run one queued-and-started job to its end; returns the process exit code."""
    store = open_store(settings)
    job = store.get(job_id)
    task = task_for(job)
    Path(job.run_dir).mkdir(parents=True, exist_ok=True)
    import psutil

    me = psutil.Process()
    on_ray = settings.environment.get(ENV_EXECUTOR) == RAY_EXECUTOR
    placed: dict[str, Any] = {"device": device_on_node(job, settings)} if on_ray else {}
    store.transition(job_id, JobState.RUNNING, pid=me.pid, pid_started=me.create_time(), **placed)
    if task is None:
        known = ", ".join(f"{kind}/{name or '-'}" for kind, name in TASKS)
        message = f"this studio cannot run a {job.kind} job with task {job.spec.get('task')!r} (it runs {known})."
        store.transition(job_id, JobState.FAILED, error=message)
        return 1
    job = store.get(job_id)
    if on_ray and job.device != NO_DEVICE:  # a job that does the work (not a coordinator) reads its node's copies
        try:
            job = replace(job, spec=on_this_node(job.spec, settings))
        except StorageError as exc:
            store.transition(job_id, JobState.FAILED, error=str(exc))
            return 1
    if job.device != NO_DEVICE:  # a job that runs a model: an OpenVINO export (an A/B evaluation, an audit)
        pin_openvino_precision()  # computes at its card's precision, not the CPU's bfloat16 default
    code = task(job, settings, store)
    # to the results bucket (or a batch prediction's output_url), when one is set; never raises
    push_results(Path(job.run_dir), job.kind, settings, destination=str(job.spec.get("output_url") or ""))
    refresh(settings)  # a finishing worker advances the queue: the device it held may start the next job
    return code


if __name__ == "__main__":
    silence_runtime_telemetry()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if len(sys.argv) != 2:
        sys.exit("usage: python -m mlcore.worker JOB_ID")
    settings = load_settings()
    if settings.environment.get(ENV_EXECUTOR) == RAY_EXECUTOR:
        drop_environment(RAY_THREAD_LIMITS)  # before anything imports torch, which reads it once
        settings = load_settings()
    sys.exit(run_job(sys.argv[1], settings))
