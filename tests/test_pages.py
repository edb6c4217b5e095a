"""AppTest: every page file and the frame run without exception; the status page shows what it should."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlcore import gpus, torch_probe
from mlcore.settings import Settings
from mlcore.torch_probe import TorchProbe
from tests.conftest import PROJECT_ROOT
from tests.fake_nvml import FakeNvml, three_gpus

PAGE_FILES = sorted((PROJECT_ROOT / "pages").glob("*.py"))
CUDA_PROBE = TorchProbe(
    ok=True,
    torch_version="2.14.1+cu130",
    cuda_build="13.0",
    cuda_available=True,
    device_count=1,
    devices=("NVIDIA H100 80GB HBM3",),
    cudnn_version=91000,
    seconds=1.5,
)


@pytest.fixture(autouse=True)
def isolated(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Temporary outputs, no GPU, an instant PyTorch probe that counts its calls."""
    st.cache_data.clear()
    calls: list[int] = []

    def fake_probe(_settings: Settings, timeout: float = 0) -> TorchProbe:
        calls.append(1)
        return CUDA_PROBE

    monkeypatch.setattr(torch_probe, "probe_torch", fake_probe)
    monkeypatch.setattr(gpus, "_load_nvml", lambda: FakeNvml([], init_error="NVML Shared Library Not Found"))
    return calls


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


@pytest.mark.parametrize("page", PAGE_FILES, ids=[p.stem for p in PAGE_FILES])
def test_every_page_runs_without_exception(page: Path) -> None:
    at = AppTest.from_file(str(page), default_timeout=60).run()
    assert not at.exception, at.exception


def test_the_frame_runs_the_default_page() -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "System status"


def test_status_without_gpu_explains_cpu_training() -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "status.py"), default_timeout=60).run()
    infos = _texts(at.info)
    assert "No GPU available" in infos and "NVML Shared Library Not Found" in infos
    assert "No training or evaluation job" in infos  # the jobs area's empty state
    labels = [m.label for m in at.metric]
    assert {"CPU", "Memory", "Disk (outputs)", "Load (1 min)"} <= set(labels)
    assert [e.label for e in at.expander] == ["CPU per core", "GPU not found", "Out of memory", "Training is slow"]


def test_status_with_three_gpus_shows_each_and_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpus, "_load_nvml", lambda: three_gpus(os.getpid()))
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "status.py"), default_timeout=60).run()
    assert not at.exception
    markdown = _texts(at.markdown)
    assert "GPU 0 · NVIDIA H100 80GB HBM3" in markdown and "GPU 2 · NVIDIA A100-SXM4-40GB" in markdown
    warnings = _texts(at.warning)
    assert "GPU 1 is at 91 °C" in warnings and "GPU 2 memory is 98% used" in warnings
    values = {m.label: m.value for m in at.metric}
    assert values["Sees CUDA"] == "yes" and values["CUDA devices"] == "1"
    assert "No GPU available" not in _texts(at.info)
    assert len(at.dataframe) == 1  # the processes of the one GPU that has some


def test_probe_is_cached_until_check_again(isolated: list[int]) -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "status.py"), default_timeout=60).run()
    at.run()
    assert len(isolated) == 1
    at.button[0].click().run()
    assert len(isolated) == 2 and not at.exception


def test_bad_configuration_is_a_message_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ML_STUDIO_PORT", "eighty")
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "status.py"), default_timeout=60).run()
    assert not at.exception
    assert "ML_STUDIO_PORT" in _texts(at.error)
