"""The machine at a glance: CPU, memory, disk of the outputs root, load, GPUs, PyTorch and jobs.

`collect_status()` is what the System Status page, `python -m mlcore status --json` and the
REST API show. It never raises for a missing GPU or driver; those become notices and hints.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil

from mlcore.core import paths
from mlcore.core.safe_paths import nearest_existing
from mlcore.core.settings import Settings
from mlcore.devices.gpus import GpuInventory, read_gpus
from mlcore.devices.torch_probe import TorchProbe, probe_torch
from mlcore.system import troubleshooting

DISK_LOW_PCT = 90.0
MEMORY_HIGH_PCT = 90.0
GIB = 1024**3


@dataclass(frozen=True)
class HostReading:
    """CPU, memory, disk and load of this machine at one moment."""

    timestamp: float
    cpu_pct: float
    per_core_pct: tuple[float, ...]
    cores_logical: int
    cores_physical: int | None
    memory_used_gb: float
    memory_total_gb: float
    memory_pct: float
    swap_pct: float
    disk_path: str
    disk_used_gb: float
    disk_total_gb: float
    disk_free_gb: float
    disk_pct: float
    load_avg: tuple[float, float, float]


@dataclass(frozen=True)
class Notice:
    """Something the user should know now, with the hint that helps (if any)."""

    level: str  # "info" | "warning"
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class SystemStatus:
    """Everything the status page shows."""

    host: HostReading
    gpus: GpuInventory
    torch: TorchProbe | None
    jobs: tuple[dict[str, Any], ...] = ()
    """Jobs running or queued, oldest first (see `jobs_overview`)."""
    notices: tuple[Notice, ...] = field(default=())

    @property
    def training_device(self) -> str:
        """Where a training started now would run by default."""
        if self.torch is not None and self.torch.cuda_available:
            return "gpu"
        if self.torch is None and self.gpus.available:
            return "gpu"
        return "cpu"

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.host.timestamp,
            "host": asdict(self.host),
            "gpus": self.gpus.to_dict(),
            "torch": None if self.torch is None else self.torch.to_dict(),
            "training_device": self.training_device,
            "jobs": list(self.jobs),
            "notices": [asdict(n) for n in self.notices],
            "hints": [h.to_dict() for h in troubleshooting.ALL_HINTS],
        }


def read_host(outputs_root: Path, cpu_interval: float = 0.25) -> HostReading:
    """One reading of the host; the CPU measured over the next `cpu_interval` seconds (not "since the previous
    call": psutil keeps that per thread, and the pages and the API read from ever new threads)."""
    # one measurement of every core, the total their mean: two separate calls measured different spans (a
    # percpu call right after an interval call reads ~0 s, and the API answered cpu 100 beside cores at 0)
    per_core = psutil.cpu_percent(interval=cpu_interval, percpu=True) or [0.0]
    cpu = sum(per_core) / len(per_core)
    memory = psutil.virtual_memory()
    disk_path = nearest_existing(outputs_root)
    disk = psutil.disk_usage(str(disk_path))
    return HostReading(
        timestamp=time.time(),
        cpu_pct=float(cpu),
        per_core_pct=tuple(float(c) for c in per_core),
        cores_logical=psutil.cpu_count(logical=True) or 1,
        cores_physical=psutil.cpu_count(logical=False),
        memory_used_gb=(memory.total - memory.available) / GIB,
        memory_total_gb=memory.total / GIB,
        memory_pct=float(memory.percent),
        swap_pct=float(psutil.swap_memory().percent),
        disk_path=str(disk_path),
        disk_used_gb=disk.used / GIB,
        disk_total_gb=disk.total / GIB,
        disk_free_gb=disk.free / GIB,
        disk_pct=float(disk.percent),
        load_avg=tuple(float(x) for x in os.getloadavg()),  # type: ignore[arg-type]
    )


def jobs_overview(outputs_root: Path) -> list[dict[str, Any]]:
    """Running and queued jobs with their device, queue position and progress; [] without a job database."""
    from mlcore.jobs.progress import read_progress
    from mlcore.jobs.store import ACTIVE_STATES, JobState, JobStore

    if not (outputs_root / paths.JOBS_DB).exists():  # reading the status never creates the database
        return []
    store = JobStore(outputs_root / paths.JOBS_DB)
    jobs = store.list(ACTIVE_STATES | {JobState.QUEUED})
    queued = [j.id for j in jobs if j.state is JobState.QUEUED]
    overview = []
    for job in jobs:
        progress = read_progress(Path(job.run_dir))
        overview.append(
            {
                "id": job.id,
                "kind": job.kind,
                "state": job.state.value,
                "device": job.device,
                "executor": job.executor,
                "node": job.node,
                "run": "/".join(Path(job.run_dir).parts[-2:]),
                "queue_position": queued.index(job.id) + 1 if job.id in queued else None,
                "epoch": progress.get("epoch"),
                "epochs": progress.get("epochs"),
                "percent": progress.get("percent", 0.0),
                "eta_s": progress.get("eta_s"),
            }
        )
    return overview


def status_notices(host: HostReading, gpus: GpuInventory, torch: TorchProbe | None) -> tuple[Notice, ...]:
    """What needs the user's attention, most important first."""
    notices: list[Notice] = []
    if not gpus.available:
        notices.append(
            Notice("info", f"{gpus.error} Trainings will run on the CPU, which is much slower.", "gpu_not_found")
        )
    if torch is not None and not torch.ok:
        notices.append(Notice("warning", f"PyTorch could not be checked: {torch.error}", "gpu_not_found"))
    elif torch is not None and gpus.available and not torch.cuda_available:
        build = "a CPU-only build" if torch.is_cpu_only_build else f"built for CUDA {torch.cuda_build}"
        notices.append(
            Notice(
                "warning",
                f"NVML sees {len(gpus.gpus)} GPU(s) but PyTorch {torch.torch_version} ({build}) cannot use CUDA: "
                "trainings would fall back to the CPU.",
                "gpu_not_found",
            )
        )
    notices.extend(Notice("warning", alert, None) for alert in gpus.notices)
    if host.disk_pct >= DISK_LOW_PCT:
        notices.append(
            Notice(
                "warning",
                f"The disk holding the outputs ({host.disk_path}) is {host.disk_pct:.0f}% full "
                f"({host.disk_free_gb:.1f} GiB free): free space before training, weights and runs need room.",
            )
        )
    if host.memory_pct >= MEMORY_HIGH_PCT:
        notices.append(
            Notice(
                "warning",
                f"Memory is {host.memory_pct:.0f}% used: dataset caching in RAM will be turned off and "
                "trainings may be killed; close other programs or use cache=disk.",
                "out_of_memory",
            )
        )
    return tuple(notices)


def collect_status(
    settings: Settings,
    include_torch: bool = True,
    cpu_interval: float = 0.3,
    nvml: ModuleType | None = None,
    torch: TorchProbe | None = None,
) -> SystemStatus:
    """Host, GPUs and (optionally) the PyTorch probe, with the notices that follow from them.

    `torch` is a probe's answer taken earlier (the probe takes seconds); without it and with
    `include_torch` the probe runs now."""
    from mlcore.jobs.scheduler import refresh

    refresh(settings)  # a worker that died is shown as failed (and its device free), not as running
    host = read_host(settings.outputs_root, cpu_interval=cpu_interval)
    gpus = read_gpus(nvml)
    if torch is None and include_torch:
        torch = probe_torch(settings)
    return SystemStatus(
        host=host,
        gpus=gpus,
        torch=torch,
        jobs=tuple(jobs_overview(settings.outputs_root)),
        notices=status_notices(host, gpus, torch),
    )
