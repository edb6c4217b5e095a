import subprocess

import pytest

from mlcore.core.settings import Settings
from mlcore.devices import torch_probe
from mlcore.devices.torch_probe import probe_torch


def test_probe_reports_the_installed_torch(settings: Settings) -> None:
    probe = probe_torch(settings)
    assert probe.ok, probe.error
    assert probe.torch_version.startswith("2.14.1")
    assert probe.device_count == len(probe.devices)
    assert probe.cuda_available == (probe.device_count > 0)
    assert probe.seconds > 0


def test_probe_timeout_is_a_message(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(cmd="probe", timeout=1)

    monkeypatch.setattr(torch_probe.subprocess, "run", slow)
    probe = probe_torch(settings, timeout=1)
    assert not probe.ok and "did not answer within 1 s" in probe.error


def test_probe_import_failure_shows_the_last_lines(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, stdout="", stderr="Traceback\nImportError: libcudart.so.13\n")

    monkeypatch.setattr(torch_probe.subprocess, "run", broken)
    probe = probe_torch(settings)
    assert not probe.ok and "libcudart.so.13" in probe.error
