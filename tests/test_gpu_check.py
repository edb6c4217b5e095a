"""benchmarks/gpu_check.py on a machine where PyTorch sees no GPU: it says so, writes the skip, and exits 0 at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def test_gpu_check_skips_without_a_gpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu_check.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_STUDIO_")}
    env["CUDA_VISIBLE_DEVICES"] = ""  # every GPU hidden, on a GPU machine too
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no CUDA GPU here: nothing to check" in proc.stdout.splitlines()
    summary = json.loads(out.read_text())
    assert summary["gpu"] is None
    assert summary["skipped"].startswith("no CUDA GPU here: nothing to check")
    assert "checks" not in summary  # nothing ran
