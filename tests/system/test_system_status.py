import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mlcore.core.settings import Settings
from mlcore.devices.gpus import GpuInventory, read_gpus
from mlcore.devices.torch_probe import TorchProbe
from mlcore.system.status import collect_status, read_host, status_notices
from tests.fake_nvml import FakeNvml, three_gpus


def test_host_reading_is_plausible(outputs_root: Path) -> None:
    host = read_host(outputs_root / "not-yet-created", cpu_interval=0.1)
    assert 0 <= host.cpu_pct <= 100 and len(host.per_core_pct) == host.cores_logical
    assert 0 < host.memory_used_gb < host.memory_total_gb
    assert host.disk_path == str(outputs_root)  # nearest existing folder of the outputs root
    assert 0 < host.disk_total_gb and 0 <= host.disk_pct <= 100
    assert len(host.load_avg) == 3


def test_the_cpu_total_is_the_mean_of_the_cores_measured_with_it(outputs_root: Path) -> None:
    """Measured over one span, in whichever thread asks: the API answers each request on a pool thread, where
    psutil's "since the last call" per-core reading had no last call and gave 0 beside a total of 100."""
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 3\nwhile time.time() < end: pass"])
    readings = []
    try:
        time.sleep(0.3)
        reader = threading.Thread(target=lambda: readings.append(read_host(outputs_root, cpu_interval=1.0)))
        reader.start()
        reader.join()
    finally:
        busy.kill()
        busy.wait()
    host = readings[0]
    assert max(host.per_core_pct) > 60  # the busy loop is seen on a core
    assert host.cpu_pct == pytest.approx(sum(host.per_core_pct) / len(host.per_core_pct), abs=0.01)


def test_status_without_gpu_says_training_runs_on_cpu(settings: Settings) -> None:
    status = collect_status(settings, include_torch=False, nvml=FakeNvml([], init_error="no driver"))
    assert status.training_device == "cpu"
    assert status.notices[0].level == "info" and "CPU" in status.notices[0].message
    assert status.notices[0].hint == "gpu_not_found"


def test_status_json_has_every_section(settings: Settings) -> None:
    status = collect_status(settings, include_torch=False, nvml=three_gpus(os.getpid()))
    data = json.loads(json.dumps(status.to_dict()))
    assert set(data) >= {"timestamp", "host", "gpus", "torch", "training_device", "jobs", "notices", "hints"}
    assert len(data["gpus"]["gpus"]) == 3 and data["training_device"] == "gpu"
    assert [h["key"] for h in data["hints"]] == ["gpu_not_found", "out_of_memory", "training_slow"]
    assert sum("GPU 1" in n["message"] for n in data["notices"]) == 1


def _host(outputs_root: Path, **changes):
    from dataclasses import replace

    return replace(read_host(outputs_root, cpu_interval=0.0), **changes)


def test_gpus_seen_but_not_by_torch_is_a_warning(outputs_root: Path) -> None:
    probe = TorchProbe(ok=True, torch_version="2.14.1+cpu", cuda_build=None, cuda_available=False)
    notices = status_notices(_host(outputs_root), read_gpus(three_gpus(os.getpid())), probe)
    message = notices[0].message
    assert notices[0].level == "warning" and "CPU-only build" in message and "3 GPU(s)" in message


def test_full_disk_and_memory_are_reported(outputs_root: Path) -> None:
    host = _host(outputs_root, disk_pct=97.0, disk_free_gb=1.5, memory_pct=95.0)
    notices = status_notices(host, GpuInventory(available=True), None)
    texts = " ".join(n.message for n in notices)
    assert "97% full" in texts and "1.5 GiB free" in texts
    assert "Memory is 95% used" in texts
    assert {n.hint for n in notices} == {None, "out_of_memory"}


def test_failed_probe_is_a_warning(outputs_root: Path) -> None:
    probe = TorchProbe(ok=False, error="PyTorch failed to import: libcudart.so missing")
    notices = status_notices(_host(outputs_root), GpuInventory(available=True), probe)
    assert notices[0].level == "warning" and "libcudart" in notices[0].message
