"""One scheduling step: reconcile dead workers, then start queued jobs whose device can be leased.

Anybody may call `schedule()` (a page refresh, the CLI, a finishing worker): there is no daemon, and
no open browser is needed for the queue to advance. A lease is a job in an active state holding a
device: by default one training per GPU and one on the CPU; a GPU is granted only with enough free
memory. Steps are serialised by an exclusive lock file under the outputs root, so two steps at
once (two browser sessions, a page and the CLI) never lease one device twice, and never take a job
that another step is starting for a dead one.
"""

from __future__ import annotations

import fcntl
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import psutil

from mlcore.core import paths
from mlcore.core.errors import InvalidTransition
from mlcore.core.paths import RunFolder
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.devices.gpus import GpuInventory, read_gpus
from mlcore.devices.leases import CPU, Lease, requested_gpus
from mlcore.engine.env import engine_environment
from mlcore.jobs.progress import log_tail
from mlcore.jobs.store import ACTIVE_STATES, Job, JobState, JobStore, open_store

MIN_FREE_GPU_MB = 2048  # a GPU with less free memory than this is not granted
SCHEDULER_LOCK = ".scheduler.lock"  # under the outputs root

Launcher = Callable[[Job, str, Settings], tuple[int, float]]


@dataclass(frozen=True)
class StepReport:
    """What one scheduling step did."""

    started: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    reconciled: tuple[str, ...] = ()


def is_alive(pid: int | None, started: float | None) -> bool:
    """True when `pid` is running and is the same process (its start time matches), not a reused pid."""
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 1.0
    except psutil.Error:
        return False


def launch_worker(job: Job, device: str, settings: Settings) -> tuple[int, float]:
    """Start `python -m mlcore.worker JOB_ID` detached (own session), logging to the run's train.log."""
    run_dir = Path(job.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    env = engine_environment(settings)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    env["CUDA_VISIBLE_DEVICES"] = Lease.parse(device).visible_devices
    with open(RunFolder(run_dir).log(job.kind), "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlcore.worker", job.id],
            env=env,
            cwd=run_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid, psutil.Process(process.pid).create_time()


def reconcile(store: JobStore) -> list[str]:
    """Jobs whose worker is gone become FAILED (STARTING/RUNNING) with the end of their log."""
    ended = []
    for job in store.list(ACTIVE_STATES):
        if is_alive(job.pid, job.pid_started):
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
                    "the worker process ended without finishing (killed, or the machine restarted). "
                    + ("Resume from the last completed epoch. " if job.kind == "training" else "")
                    + f"Last log lines:\n{log_tail(job.run_dir, kind=job.kind)}"
                ),
            )
            ended.append(job.id)
        except InvalidTransition:
            continue  # the worker finished in the meantime
    return ended


def _gpu_for(job: Job, inventory: GpuInventory, leased: set[str]) -> tuple[str | None, str | None]:
    """(device, None) to start on, (None, None) to wait, or (None, message) when it can never run."""
    wanted = str(job.spec.get("device", "auto"))
    if wanted == CPU or (wanted == "auto" and not inventory.available):
        return (CPU, None) if CPU not in leased else (None, None)
    if not inventory.available:
        return None, (
            f"device={wanted!r} asks for a GPU, but this machine has none ({inventory.error}); "
            "use device='cpu' or 'auto'."
        )
    by_index = {g.index: g for g in inventory.gpus}
    if wanted == "auto":
        free = [
            g
            for g in inventory.gpus
            if str(Lease.of_gpus([g.index])) not in leased
            and (g.memory_total_mb or 0) - (g.memory_used_mb or 0) >= MIN_FREE_GPU_MB
        ]
        if not free:
            return None, None
        best = max(free, key=lambda g: (g.memory_total_mb or 0) - (g.memory_used_mb or 0))
        return str(Lease.of_gpus([best.index])), None
    indices = list(requested_gpus(wanted))
    missing = [i for i in indices if i not in by_index]
    if missing:
        return None, (
            f"device={wanted!r}: GPU {missing[0]} does not exist; this machine has GPU(s) "
            f"{', '.join(str(i) for i in sorted(by_index))}."
        )
    busy = [
        i
        for i in indices
        if any(i in Lease.parse(lease).gpus for lease in leased)
        or (by_index[i].memory_total_mb or 0) - (by_index[i].memory_used_mb or 0) < MIN_FREE_GPU_MB
    ]
    return (None, None) if busy else (str(Lease.of_gpus(indices)), None)


def _leases(store: JobStore) -> set[str]:
    """Devices held by active jobs; a multi-GPU job holds each of its GPUs."""
    held: set[str] = set()
    for job in store.list(ACTIVE_STATES):
        if job.device:
            held |= Lease.parse(job.device).held
    return held


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
    comes back, for the caller to show. Before the first job there is nothing to advance (and a look
    never creates the job database)."""
    if not (settings.outputs_root / paths.JOBS_DB).exists():
        return None
    try:
        schedule(settings)
    except (OSError, sqlite3.Error) as exc:
        return f"the queue could not be advanced just now ({exc}); it is tried again at the next look."
    return None


def schedule(settings: Settings, nvml: ModuleType | None = None, launcher: Launcher = launch_worker) -> StepReport:
    """Reconcile, then start every queued job that can get a device now (oldest first)."""
    with _one_step_at_a_time(settings):
        return _step(settings, nvml, launcher)


def _step(settings: Settings, nvml: ModuleType | None, launcher: Launcher) -> StepReport:
    store = open_store(settings)
    reconciled = reconcile(store)
    queued = store.list({JobState.QUEUED})
    if not queued:
        return StepReport(reconciled=tuple(reconciled))
    inventory = read_gpus(nvml)
    leased = _leases(store)
    started, failed = [], []
    for job in queued:
        device, impossible = _gpu_for(job, inventory, leased)
        if impossible:
            try:
                store.transition(job.id, JobState.STARTING, expect=JobState.QUEUED)
                store.transition(job.id, JobState.FAILED, error=impossible)
                failed.append(job.id)
            except InvalidTransition:
                pass
            continue
        if device is None:
            continue  # waits in the queue
        try:
            store.transition(job.id, JobState.STARTING, expect=JobState.QUEUED, device=device)
        except InvalidTransition:
            continue  # another step claimed it
        try:
            pid, pid_started = launcher(job, device, settings)
        except OSError as exc:
            store.transition(job.id, JobState.FAILED, error=f"the worker could not start: {exc}")
            failed.append(job.id)
            continue
        store.update(job.id, pid=pid, pid_started=pid_started)
        leased |= Lease.parse(device).held
        started.append(job.id)
    return StepReport(tuple(started), tuple(failed), tuple(reconciled))
