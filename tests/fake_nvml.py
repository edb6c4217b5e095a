"""A stand-in for the `pynvml` module: several GPUs with chosen readings, and failure modes."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

MIB = 1024 * 1024


class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):
    pass


@dataclass
class FakeGpu:
    name: str
    uuid: str
    util: int = 0
    used_mib: int = 0
    total_mib: int = 81559
    temperature: int = 40
    power_mw: int | None = 70_000
    limit_mw: int = 700_000
    processes: list[tuple[int, int | None]] = field(default_factory=list)


class FakeNvml:
    """Implements the NVML calls mlcore.gpus uses, over a list of FakeGpu."""

    NVMLError = NVMLError
    NVML_TEMPERATURE_GPU = 0

    def __init__(
        self, gpus: list[FakeGpu], init_error: str | None = None, driver: str = "580.95.05", cuda: int = 13000
    ) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.driver = driver
        self.cuda = cuda
        self.initialised = 0

    def nvmlInit(self) -> None:
        if self.init_error:
            raise NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.initialised -= 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self.gpus[index]

    def nvmlDeviceGetName(self, gpu: FakeGpu) -> str:
        return gpu.name

    def nvmlDeviceGetUUID(self, gpu: FakeGpu) -> str:
        return gpu.uuid

    def nvmlDeviceGetUtilizationRates(self, gpu: FakeGpu) -> SimpleNamespace:
        return SimpleNamespace(gpu=gpu.util, memory=0)

    def nvmlDeviceGetMemoryInfo(self, gpu: FakeGpu) -> SimpleNamespace:
        return SimpleNamespace(
            used=gpu.used_mib * MIB, total=gpu.total_mib * MIB, free=(gpu.total_mib - gpu.used_mib) * MIB
        )

    def nvmlDeviceGetTemperature(self, gpu: FakeGpu, sensor: int) -> int:
        return gpu.temperature

    def nvmlDeviceGetPowerUsage(self, gpu: FakeGpu) -> int:
        if gpu.power_mw is None:
            raise NVMLError_NotSupported("Not Supported")
        return gpu.power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, gpu: FakeGpu) -> int:
        return gpu.limit_mw

    def nvmlDeviceGetComputeRunningProcesses(self, gpu: FakeGpu) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(pid=pid, usedGpuMemory=None if mem is None else mem * MIB) for pid, mem in gpu.processes
        ]

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return self.cuda


def three_gpus(own_pid: int) -> FakeNvml:
    """An idle GPU, a hot one, and one whose memory is full (with a process of ours on it)."""
    return FakeNvml(
        [
            FakeGpu("NVIDIA H100 80GB HBM3", "GPU-aaaa", util=3, used_mib=500),
            FakeGpu("NVIDIA H100 80GB HBM3", "GPU-bbbb", util=97, used_mib=40000, temperature=91, power_mw=None),
            FakeGpu(
                "NVIDIA A100-SXM4-40GB",
                "GPU-cccc",
                util=55,
                used_mib=40000,
                total_mib=40960,
                processes=[(own_pid, 39000), (999_999_999, None)],
            ),
        ]
    )
