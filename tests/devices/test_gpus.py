import json
import os

import pytest

from mlcore.devices import gpus
from mlcore.devices.gpus import read_gpus
from tests.fake_nvml import FakeGpu, FakeNvml, three_gpus


def test_reads_every_gpu_with_its_figures_and_processes() -> None:
    nvml = three_gpus(os.getpid())
    inventory = read_gpus(nvml)
    assert inventory.available and inventory.error is None
    assert inventory.driver_version == "580.95.05" and inventory.cuda_driver_version == "13.0"
    assert [g.uuid for g in inventory.gpus] == ["GPU-aaaa", "GPU-bbbb", "GPU-cccc"]
    idle, hot, full = inventory.gpus
    assert idle.utilization_pct == 3 and idle.memory_used_mb == 500 and idle.power_w == 70.0
    assert idle.power_limit_w == 700.0 and idle.alerts() == []
    assert hot.temperature_c == 91 and hot.is_hot and not hot.is_memory_full
    assert hot.power_w is None  # not supported by this GPU: shown as n/a, not an error
    assert full.is_memory_full and full.memory_pct == pytest.approx(97.66, abs=0.01)
    own, foreign = full.processes
    assert own.pid == os.getpid() and own.used_memory_mb == 39000 and "python" in own.name.lower()
    assert foreign.used_memory_mb is None and foreign.name == "(other container or user)"
    assert nvml.initialised == 0  # NVML is shut down after every reading


def test_alerts_name_the_gpu_and_what_to_do() -> None:
    inventory = read_gpus(three_gpus(os.getpid()))
    assert len(inventory.notices) == 2
    hot, full = inventory.notices
    assert "GPU 1" in hot and "91 °C" in hot and "airflow" in hot
    assert "GPU 2" in full and "98% used" in full and "another GPU" in full


def test_driver_missing_is_a_reason_not_an_exception() -> None:
    inventory = read_gpus(FakeNvml([], init_error="NVML Shared Library Not Found"))
    assert not inventory.available and inventory.gpus == ()
    assert "NVML Shared Library Not Found" in inventory.error


def test_driver_without_gpus() -> None:
    inventory = read_gpus(FakeNvml([]))
    assert not inventory.available and "reports no GPU" in inventory.error


def test_package_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpus, "_load_nvml", lambda: None)
    inventory = read_gpus()
    assert not inventory.available and "nvidia-ml-py" in inventory.error


def test_inventory_serialises_to_json() -> None:
    data = json.loads(json.dumps(read_gpus(three_gpus(os.getpid())).to_dict()))
    assert data["gpus"][2]["memory_pct"] > 95 and data["gpus"][2]["alerts"]
    assert data["gpus"][1]["power_w"] is None


def test_one_unreadable_gpu_does_not_hide_the_others() -> None:
    class Flaky(FakeNvml):
        def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
            if index == 0:
                raise self.NVMLError("GPU is lost")
            return super().nvmlDeviceGetHandleByIndex(index)

    inventory = read_gpus(Flaky([FakeGpu("A", "GPU-1"), FakeGpu("B", "GPU-2")]))
    assert [g.uuid for g in inventory.gpus] == ["GPU-2"]


@pytest.mark.gpu
def test_real_nvml_on_a_machine_with_an_nvidia_gpu() -> None:
    inventory = read_gpus()
    if not inventory.available:
        pytest.skip(f"no NVIDIA GPU here: {inventory.error}")
    for gpu in inventory.gpus:
        assert gpu.name and gpu.uuid.startswith(("GPU-", "MIG-"))
        assert gpu.memory_total_mb and gpu.memory_total_mb > 1000
        assert gpu.temperature_c is None or 0 < gpu.temperature_c < 120
