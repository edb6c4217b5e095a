"""Does PyTorch see CUDA? Answered by a short child process, so the caller never imports torch.

python -m mlcore.torch_probe        prints one JSON object (what the child reports)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from mlcore.core.settings import Settings
from mlcore.engine.env import engine_environment

PROBE_TIMEOUT_S = 120


@dataclass(frozen=True)
class TorchProbe:
    """What PyTorch reports in a process prepared like the training workers."""

    ok: bool
    """True when torch imported and answered."""
    torch_version: str | None = None
    cuda_build: str | None = None
    """CUDA version torch was built with; None for a CPU-only build."""
    cuda_available: bool = False
    device_count: int = 0
    devices: tuple[str, ...] = field(default=())
    cudnn_version: int | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def is_cpu_only_build(self) -> bool:
        return self.ok and self.cuda_build is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _report() -> dict[str, Any]:
    """Runs in the child: import torch and describe what it sees."""
    import torch

    available = bool(torch.cuda.is_available())
    count = torch.cuda.device_count() if available else 0
    devices = [torch.cuda.get_device_name(i) for i in range(count)]
    cudnn = torch.backends.cudnn.version() if available else None
    return {
        "ok": True,
        "torch_version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cuda_available": available,
        "device_count": count,
        "devices": devices,
        "cudnn_version": cudnn,
    }


def probe_torch(settings: Settings, timeout: float = PROBE_TIMEOUT_S) -> TorchProbe:
    """Run the probe in a child process with the workers' environment."""
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mlcore.devices.torch_probe"],
            env=engine_environment(settings),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return TorchProbe(ok=False, error=f"PyTorch did not answer within {timeout:.0f} s.")
    except OSError as exc:
        return TorchProbe(ok=False, error=f"The probe could not start: {exc}.")
    seconds = time.monotonic() - start
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return TorchProbe(ok=False, error="PyTorch failed to import: " + " ".join(tail), seconds=seconds)
    try:
        data = json.loads(lines[-1])
    except ValueError:
        return TorchProbe(ok=False, error=f"Unexpected probe output: {lines[-1][:200]}", seconds=seconds)
    data["devices"] = tuple(data.get("devices", ()))
    return TorchProbe(**data, seconds=seconds)


if __name__ == "__main__":
    try:
        print(json.dumps(_report()))
    except Exception as exc:  # the parent shows this text to the user
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
