"""One scheduling step: reconcile workers that are gone, then start queued jobs that can be placed.

Anybody may call `schedule()` (a page refresh, the CLI, a finishing worker): there is no daemon, and
no open browser is needed for the queue to advance. New jobs go to the Ray cluster when one is
configured and passes its check (`cluster.probe`), else to this machine; each job's row records which
executor started it, and that one answers for it until it ends. Steps are serialised by an exclusive
lock file under the outputs root, so two steps at once (two browser sessions, a page and the CLI) never
place one device twice, and never take a job that another step is starting for a dead one.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from mlcore.cluster.connection import ClusterUnavailable
from mlcore.cluster.environment import RAY_EXECUTOR
from mlcore.cluster.probe import cluster_check
from mlcore.core import paths
from mlcore.core.errors import InvalidTransition
from mlcore.core.settings import Settings
from mlcore.jobs.executor import Executor
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.local import Launcher, LocalExecutor, launch_worker
from mlcore.jobs.progress import run_folder_log, tail
from mlcore.jobs.ray_executor import RayExecutor
from mlcore.jobs.store import ACTIVE_STATES, Job, JobState, JobStore, open_store
from mlcore.storage.push import has_pending, retry_pending

SCHEDULER_LOCK = ".scheduler.lock"  # under the outputs root


@dataclass(frozen=True)
class StepReport:
    """What one scheduling step did."""

    started: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    reconciled: tuple[str, ...] = ()
    problem: str | None = None
    """Why new jobs run on this machine although a Ray cluster is configured."""


@dataclass
class Executors:
    """The executors of one step: each job's own, and the one new jobs go to."""

    by_name: dict[str, Executor]
    target: Executor
    problem: str | None = None

    def of(self, job: Job) -> Executor | None:
        return self.by_name.get(job.executor)


def executors(settings: Settings, nvml: ModuleType | None = None, launcher: Launcher = launch_worker) -> Executors:
    """The local executor always; the Ray one when an address is configured. New jobs go to Ray only when the
    cluster passed its check (reachable, the same Ray release, the studio on its nodes, outputs shared)."""
    local = LocalExecutor(settings, nvml, launcher)
    if not settings.ray_address:
        return Executors({local.name: local}, local)
    ray = RayExecutor(settings)
    check = cluster_check(settings)
    if check.ok:
        return Executors({local.name: local, ray.name: ray}, ray)
    return Executors({local.name: local, ray.name: ray}, local, problem=check.message)


def executor_of(job: Job, settings: Settings) -> Executor | None:
    """The executor that started `job`, without the cluster's check (which is about new jobs); None for a job
    started on Ray when no Ray address is configured any more."""
    if job.executor == RAY_EXECUTOR:
        return RayExecutor(settings) if settings.ray_address else None
    return LocalExecutor(settings)


def job_log(job: Job, settings: Settings) -> str:
    """The job's whole log, read through the executor that ran it (Ray's copy when the folder's is out of reach)."""
    executor = executor_of(job, settings)
    return executor.log(job) if executor is not None else run_folder_log(job)


def target_executor(settings: Settings) -> Executor:
    """The executor a job submitted now goes to (for the checks at submit)."""
    return executors(settings).target


def reconcile(store: JobStore, book: Executors) -> list[str]:
    """Started jobs whose worker is gone become FAILED with the end of their log (a training is resumable)."""
    ended = []
    for job in store.list(ACTIVE_STATES):
        executor = book.of(job)
        if executor is None:
            continue  # started by Ray, which is not configured any more: nothing can tell
        seen = executor.observe(job)
        if not seen.known:
            continue
        if seen.ended is None:
            if seen.node and seen.node != job.node:
                store.update(job.id, node=seen.node)
            continue
        try:
            current = store.get(job.id)
            if current.state.is_final():
                continue
            store.transition(
                job.id,
                JobState.FAILED,
                expect=current.state,
                error=(
                    seen.ended
                    + (" Resume from the last completed epoch." if job.kind == JobKind.TRAINING else "")
                    + f" Last log lines:\n{tail(executor.log(job))}"
                ),
            )
            ended.append(job.id)
        except InvalidTransition:
            continue  # the worker finished in the meantime
    return ended


@contextmanager
def _one_step_at_a_time(settings: Settings) -> Iterator[None]:
    lock = settings.outputs_root / SCHEDULER_LOCK
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, even if this process dies
        yield


def refresh(settings: Settings) -> str | None:
    """The scheduling step that every read of the jobs takes first (CLI, API, pages), so a worker that
    died is seen as failed and its device is freed at the next look. A step that cannot run now (a
    read-only or full outputs disk, a database locked too long) does not stop the read: the reason
    comes back, for the caller to show, as does a configured Ray cluster that cannot take jobs. Before
    the first job there is nothing to advance (and a look never creates the job database)."""
    if not (settings.outputs_root / paths.JOBS_DB).exists():
        return None
    if has_pending(settings):  # uploads a lost connection left: tried again beside the read, never in its way
        threading.Thread(target=retry_pending, args=(settings,), daemon=True).start()
    try:
        return schedule(settings).problem
    except (OSError, sqlite3.Error) as exc:
        return f"the queue could not be advanced just now ({exc}); it is tried again at the next look."


def schedule(settings: Settings, nvml: ModuleType | None = None, launcher: Launcher = launch_worker) -> StepReport:
    """Reconcile, then start every queued job that can be placed now (oldest first)."""
    with _one_step_at_a_time(settings):
        return _step(settings, executors(settings, nvml, launcher))


def _step(settings: Settings, book: Executors) -> StepReport:
    store = open_store(settings)
    reconciled = reconcile(store, book)
    queued = store.list({JobState.QUEUED})
    if not queued:
        return StepReport(reconciled=tuple(reconciled), problem=book.problem)
    active = store.list(ACTIVE_STATES)
    started: list[str] = []
    failed: list[str] = []
    target = book.target
    for job in queued:
        try:
            placement = target.place(job, active)
        except (OSError, ClusterUnavailable) as exc:  # the cluster went away during the step: try again at the next one
            return StepReport(tuple(started), tuple(failed), tuple(reconciled), problem=str(exc))
        if placement.impossible:
            try:
                store.transition(job.id, JobState.STARTING, expect=JobState.QUEUED)
                store.transition(job.id, JobState.FAILED, error=placement.impossible)
                failed.append(job.id)
            except InvalidTransition:
                pass
            continue
        if placement.device is None:
            continue  # waits in the queue
        try:
            claimed = store.transition(
                job.id, JobState.STARTING, expect=JobState.QUEUED, device=placement.device, executor=target.name
            )
        except InvalidTransition:
            continue  # another step claimed it
        try:
            updates = target.launch(claimed, placement.device)
        except OSError as exc:
            store.transition(job.id, JobState.FAILED, error=f"the worker could not start: {exc}")
            failed.append(job.id)
            continue
        if updates:
            store.update(job.id, **updates)
        active.append(store.get(job.id))
        started.append(job.id)
    return StepReport(tuple(started), tuple(failed), tuple(reconciled), problem=book.problem)
