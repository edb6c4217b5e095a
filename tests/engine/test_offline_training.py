"""A real CPU training under the studio's engine environment makes zero network attempts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, engine_env_for

CHILD = str(PROJECT_ROOT / "tests" / "offline_child.py")


def _attempts(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_the_guard_sees_what_ultralytics_does_without_the_studio(tmp_path: Path) -> None:
    """Control: with plain settings, merely importing Ultralytics already asks DNS (so the guard works)."""
    log = tmp_path / "attempts.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    env.update(YOLO_CONFIG_DIR=str(tmp_path / "plain-config"), PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.run(
        [sys.executable, CHILD, str(log), "import"], env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert any(a["kind"] == "getaddrinfo" for a in _attempts(log))


@pytest.mark.slow
def test_one_epoch_cpu_training_with_network_refused(tmp_path: Path, small_dataset: Path) -> None:
    dataset = tmp_path / "dataset"
    shutil.copytree(small_dataset, dataset)  # Ultralytics writes label caches next to the labels
    outputs = tmp_path / "ml_outputs"
    env = engine_env_for(outputs)
    log = tmp_path / "attempts.jsonl"
    project = outputs / "trainings" / "offline-test"
    proc = subprocess.run(
        [sys.executable, CHILD, str(log), "train", str(dataset / "data.yaml"), str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "TRAINING-COMPLETED" in proc.stdout
    run = project / "offline"
    rows = (run / "results.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,") and len(rows) == 2  # header + the one epoch
    assert (run / "weights" / "last.pt").stat().st_size > 100_000
    assert (run / "weights" / "best.pt").exists()
    assert _attempts(log) == [], f"network attempts: {_attempts(log)[:5]}"
    # Nothing was downloaded into the working folder or the engine's folders.
    assert not list(tmp_path.glob("*.pt")) and not (tmp_path / "datasets").exists()


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["yolo11n", "yolo26n"])
def test_newer_families_train_export_and_predict_with_network_refused(
    tmp_path: Path, small_dataset: Path, arch: str
) -> None:
    """YOLO11 and YOLO26 (its AMP check and MuSGD would fetch weights) stay offline: a training, an ONNX export
    (YOLO26: with each head) and predictions with each model, every socket refused."""
    dataset = tmp_path / "dataset"
    shutil.copytree(small_dataset, dataset)
    outputs = tmp_path / "ml_outputs"
    log = tmp_path / "attempts.jsonl"
    project = outputs / "trainings" / "offline-test"
    proc = subprocess.run(
        [sys.executable, CHILD, str(log), "chain", str(dataset / "data.yaml"), str(project), arch],
        env=engine_env_for(outputs),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    heads = [line for line in proc.stdout.splitlines() if line.startswith("CHAIN-COMPLETED")]
    assert len(heads) == (2 if arch == "yolo26n" else 1), proc.stdout[-2000:]
    assert _attempts(log) == [], f"network attempts: {_attempts(log)[:5]}"
    assert not list(tmp_path.glob("*.pt")) and not (tmp_path / "datasets").exists()
