"""The local executor: each job's worker is a detached process on this machine, on a leased device.

A lease is a job in an active state holding a device: by default one job per GPU and one on the CPU;
a GPU is granted only with enough free memory (NVML's readings).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil

from mlcore.core.paths import RunFolder
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.devices.gpus import GpuInventory, read_gpus
from mlcore.devices.leases import CPU, NO_DEVICE, Lease, requested_gpus
from mlcore.engine.env import engine_environment
from mlcore.jobs.executor import Observation, Placement
from mlcore.jobs.progress import run_folder_log
from mlcore.jobs.store import LOCAL_EXECUTOR, Job

MIN_FREE_GPU_MB = 2048  # a GPU with less free memory than this is not granted

Launcher = Callable[[Job, str, Settings], tuple[int, float]]


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
    """Start `python -m mlcore.worker JOB_ID` detached (own session), logging to the run's log."""
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


def gpu_for(wanted: str, inventory: GpuInventory, leased: set[str]) -> Placement:
    """Where a job asking for `wanted` ("auto", "cpu", "0", "0,1", or "none") starts on this machine now."""
    if wanted == NO_DEVICE:
        return Placement(NO_DEVICE)
    if wanted == CPU or (wanted == "auto" and not inventory.available):
        return Placement(CPU) if CPU not in leased else Placement()
    if not inventory.available:
        return Placement(
            impossible=(
                f"device={wanted!r} asks for a GPU, but this machine has none ({inventory.error}); "
                "use device='cpu' or 'auto'."
            )
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
            return Placement()
        best = max(free, key=lambda g: (g.memory_total_mb or 0) - (g.memory_used_mb or 0))
        return Placement(str(Lease.of_gpus([best.index])))
    indices = list(requested_gpus(wanted))
    missing = [i for i in indices if i not in by_index]
    if missing:
        return Placement(
            impossible=(
                f"device={wanted!r}: GPU {missing[0]} does not exist; this machine has GPU(s) "
                f"{', '.join(str(i) for i in sorted(by_index))}."
            )
        )
    busy = [
        i
        for i in indices
        if any(i in Lease.parse(lease).gpus for lease in leased)
        or (by_index[i].memory_total_mb or 0) - (by_index[i].memory_used_mb or 0) < MIN_FREE_GPU_MB
    ]
    return Placement() if busy else Placement(str(Lease.of_gpus(indices)))


class LocalExecutor:
    """Workers as detached processes on this machine."""

    name = LOCAL_EXECUTOR

    def __init__(self, settings: Settings, nvml: ModuleType | None = None, launcher: Launcher = launch_worker) -> None:
        self.settings = settings
        self._nvml = nvml
        self._launcher = launcher

    @cached_property
    def inventory(self) -> GpuInventory:
        return read_gpus(self._nvml)

    def refusal(self, spec: dict[str, Any]) -> str | None:
        return None  # a GPU that is missing here fails the job at its first scheduling step, with the reason

    def place(self, job: Job, active: list[Job]) -> Placement:
        leased: set[str] = set()
        for other in active:
            if other.executor == self.name and other.device and other.device != NO_DEVICE:
                leased |= Lease.parse(other.device).held  # a multi-GPU job holds each of its GPUs
        return gpu_for(str(job.spec.get("device", "auto")), self.inventory, leased)

    def capacity(self, wanted: str) -> int:
        """How many jobs asking for `wanted` this machine runs at once: its GPUs with room, else the one CPU slot."""
        if wanted == CPU or requested_gpus(wanted) or not self.inventory.available:
            return 1
        roomy = [
            g for g in self.inventory.gpus if (g.memory_total_mb or 0) - (g.memory_used_mb or 0) >= MIN_FREE_GPU_MB
        ]
        return max(1, len(roomy))

    def launch(self, job: Job, device: str) -> dict[str, Any]:
        pid, pid_started = self._launcher(job, device, self.settings)
        return {"pid": pid, "pid_started": pid_started}

    def observe(self, job: Job) -> Observation:
        if is_alive(job.pid, job.pid_started):
            return Observation()
        return Observation(ended="the worker process ended without finishing (killed, or the machine restarted).")

    def cancel(self, job: Job, grace_s: float) -> None:
        """SIGTERM to the worker's process group, SIGKILL to what is left after the grace period."""
        if job.pid is None or not is_alive(job.pid, job.pid_started):
            return
        pgid = os.getpgid(job.pid)  # the worker leads its own session and group
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while is_alive(job.pid, job.pid_started) and time.monotonic() < deadline:
            time.sleep(0.1)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log(self, job: Job) -> str:
        return run_folder_log(job)
