"""Device strings, parsed in one place.

A job asks for a device in its spec (`"auto"`, `"cpu"`, `"0"` or `"0,1"`); the scheduler grants a
lease (`"cpu"` or `"gpu:0,1"`) and records it on the job row. The worker then sees only its leased
GPUs (CUDA_VISIBLE_DEVICES), numbered from 0.

    lease = Lease.parse(job.device)
    lease.gpus                 # (0, 1)
    lease.visible_devices      # "0,1", for CUDA_VISIBLE_DEVICES
    lease.ultralytics_device   # "0,1" as the worker passes it to Ultralytics; "cpu" on the CPU
"""

from __future__ import annotations

from dataclasses import dataclass

CPU = "cpu"
GPU_PREFIX = "gpu:"
NO_DEVICE = "none"  # a job that computes nothing heavy (a study's coordinator): placed at once, holds no device


@dataclass(frozen=True)
class Lease:
    """A device a job holds: the CPU, or one or more GPUs by their NVML index."""

    gpus: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> Lease:
        """`"cpu"`, `"gpu:0"` or `"gpu:0,1"` (None or empty: the CPU)."""
        if not text or not text.startswith(GPU_PREFIX):
            return cls()
        return cls(tuple(int(i) for i in text.removeprefix(GPU_PREFIX).split(",")))

    @classmethod
    def of_gpus(cls, indices: list[int] | tuple[int, ...]) -> Lease:
        return cls(tuple(indices))

    @property
    def is_cpu(self) -> bool:
        return not self.gpus

    def __str__(self) -> str:
        return CPU if self.is_cpu else GPU_PREFIX + ",".join(str(i) for i in self.gpus)

    @property
    def held(self) -> set[str]:
        """What this lease holds in the scheduler's books: "cpu", or the whole lease and each GPU alone."""
        if self.is_cpu:
            return {CPU}
        return {str(self)} | {f"{GPU_PREFIX}{i}" for i in self.gpus}

    @property
    def visible_devices(self) -> str:
        """CUDA_VISIBLE_DEVICES for the worker ('' hides every GPU)."""
        return ",".join(str(i) for i in self.gpus)

    @property
    def ultralytics_device(self) -> str:
        """Ultralytics' device argument inside the worker, which sees its leased GPUs as 0, 1, ..."""
        return CPU if self.is_cpu else ",".join(str(i) for i in range(len(self.gpus)))


def ultralytics_device(lease: str | None) -> str:
    """The device argument for a job's leased device (see `Lease.ultralytics_device`)."""
    return Lease.parse(lease).ultralytics_device


def requested_gpus(wanted: str) -> tuple[int, ...]:
    """The GPU indices a spec's device asks for by number ("0,1" -> (0, 1)); () for "auto" and "cpu"."""
    if wanted in ("auto", CPU):
        return ()
    return tuple(int(i) for i in wanted.split(","))
