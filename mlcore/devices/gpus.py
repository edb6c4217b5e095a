"""NVIDIA GPUs as NVML reports them: name, utilisation, memory, temperature, power, processes.

NVML comes from the `nvidia-ml-py` package (module `pynvml`). With no driver or no GPU,
`read_gpus()` returns an inventory with `available=False` and the reason, never an exception.
Tests pass a fake module through the `nvml` argument.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

import psutil

logger = logging.getLogger(__name__)

HOT_TEMPERATURE_C = 85  # most data-centre GPUs start throttling between 85 and 90 °C
FULL_MEMORY_PCT = 95.0
MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a GPU."""

    pid: int
    name: str
    used_memory_mb: float | None


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one moment; a figure the driver does not report is None."""

    index: int
    uuid: str
    name: str
    utilization_pct: float | None
    memory_used_mb: float | None
    memory_total_mb: float | None
    temperature_c: float | None
    power_w: float | None
    power_limit_w: float | None
    processes: tuple[GpuProcess, ...] = ()

    @property
    def memory_pct(self) -> float | None:
        if self.memory_used_mb is None or not self.memory_total_mb:
            return None
        return 100.0 * self.memory_used_mb / self.memory_total_mb

    @property
    def is_hot(self) -> bool:
        return self.temperature_c is not None and self.temperature_c >= HOT_TEMPERATURE_C

    @property
    def is_memory_full(self) -> bool:
        pct = self.memory_pct
        return pct is not None and pct >= FULL_MEMORY_PCT

    def alerts(self) -> list[str]:
        """Plain sentences about what needs attention on this GPU."""
        found = []
        if self.is_hot:
            found.append(
                f"GPU {self.index} is at {self.temperature_c:.0f} °C (≥ {HOT_TEMPERATURE_C} °C): it may throttle; "
                "check the fans and airflow, or lower its load."
            )
        if self.is_memory_full:
            found.append(
                f"GPU {self.index} memory is {self.memory_pct:.0f}% used: a new training there will run out of "
                "memory; wait for the processes below to finish or pick another GPU."
            )
        return found


@dataclass(frozen=True)
class GpuInventory:
    """Every GPU NVML sees, or why it sees none."""

    available: bool
    gpus: tuple[GpuReading, ...] = ()
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    error: str | None = None
    notices: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for gpu, reading in zip(data["gpus"], self.gpus, strict=True):
            gpu["memory_pct"] = reading.memory_pct
            gpu["alerts"] = reading.alerts()
        return data


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _optional(nvml: ModuleType, call: Any, *args: Any) -> Any:
    """The value of an NVML query, or None when this GPU or driver does not support it."""
    try:
        return call(*args)
    except nvml.NVMLError:
        return None


def _process_name(pid: int) -> str:
    try:
        return psutil.Process(pid).name()
    except (psutil.Error, OSError):
        return "(other container or user)"


def _read_one(nvml: ModuleType, index: int) -> GpuReading:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    util = _optional(nvml, nvml.nvmlDeviceGetUtilizationRates, handle)
    memory = _optional(nvml, nvml.nvmlDeviceGetMemoryInfo, handle)
    temperature = _optional(nvml, nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
    power_mw = _optional(nvml, nvml.nvmlDeviceGetPowerUsage, handle)
    limit_mw = _optional(nvml, nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
    running = _optional(nvml, nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []
    processes = tuple(
        GpuProcess(
            pid=int(p.pid),
            name=_process_name(int(p.pid)),
            used_memory_mb=None if getattr(p, "usedGpuMemory", None) is None else p.usedGpuMemory / MIB,
        )
        for p in running
    )
    return GpuReading(
        index=index,
        uuid=_text(_optional(nvml, nvml.nvmlDeviceGetUUID, handle) or f"index-{index}"),
        name=_text(_optional(nvml, nvml.nvmlDeviceGetName, handle) or "unknown GPU"),
        utilization_pct=None if util is None else float(util.gpu),
        memory_used_mb=None if memory is None else memory.used / MIB,
        memory_total_mb=None if memory is None else memory.total / MIB,
        temperature_c=None if temperature is None else float(temperature),
        power_w=None if power_mw is None else power_mw / 1000.0,
        power_limit_w=None if limit_mw is None else limit_mw / 1000.0,
        processes=processes,
    )


def _load_nvml() -> ModuleType | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def read_gpus(nvml: ModuleType | None = None) -> GpuInventory:
    """Read every GPU once. Never raises: problems become `error` and `notices`."""
    nvml = nvml or _load_nvml()
    if nvml is None:
        return GpuInventory(
            available=False,
            error="The NVML library (package nvidia-ml-py) is not installed; run `make run` to install it.",
        )
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        return GpuInventory(
            available=False,
            error=f"No NVIDIA driver answered ({_text(exc)}).",
        )
    try:
        count = nvml.nvmlDeviceGetCount()
        gpus = []
        for index in range(count):
            try:
                gpus.append(_read_one(nvml, index))
            except nvml.NVMLError as exc:
                logger.warning("GPU %d could not be read: %s", index, exc)
        driver = _optional(nvml, nvml.nvmlSystemGetDriverVersion)
        cuda = _optional(nvml, nvml.nvmlSystemGetCudaDriverVersion)
    except nvml.NVMLError as exc:
        return GpuInventory(available=False, error=f"NVML failed while listing GPUs: {_text(exc)}.")
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass
    if not gpus:
        return GpuInventory(
            available=False,
            driver_version=None if driver is None else _text(driver),
            error="The NVIDIA driver is loaded but reports no GPU.",
        )
    notices = tuple(alert for gpu in gpus for alert in gpu.alerts())
    return GpuInventory(
        available=True,
        gpus=tuple(gpus),
        driver_version=None if driver is None else _text(driver),
        cuda_driver_version=None if cuda is None else f"{cuda // 1000}.{cuda % 1000 // 10}",
        notices=notices,
    )
