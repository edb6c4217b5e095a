"""What the benchmarks that compare the studio with Ultralytics share: a scratch outputs root, and a
copy of a dataset for the direct Ultralytics runs (which write label caches beside the labels)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml


@contextmanager
def studio_workspace(prefix: str) -> Iterator[Path]:
    """A temporary folder whose ml_outputs/ and data/ the studio uses (set in this process's environment)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["ML_STUDIO_OUTPUTS"] = str(work / "ml_outputs")
    os.environ["ML_STUDIO_DATASET_ROOTS"] = str(work / "data")
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ultralytics_copy(dataset: Path, work: Path) -> Path:
    """A copy of `dataset` for direct Ultralytics runs, with an absolute path in its data.yaml; returns that file."""
    copy = work / "direct-data"
    shutil.copytree(dataset, copy)
    data_yaml = copy / "data.yaml"
    spec = yaml.safe_load(data_yaml.read_text())
    spec["path"] = str(copy)
    data_yaml.write_text(json.dumps(spec))
    return data_yaml


def wait(job_id: str) -> dict:
    """Advance the queue until the studio job has ended; its seconds and folder (exit if it did not complete)."""
    from mlcore.core.settings import load_settings
    from mlcore.jobs.scheduler import schedule
    from mlcore.jobs.store import open_store

    settings = load_settings()
    store = open_store(settings)
    while not store.get(job_id).state.is_final():
        schedule(settings)
        time.sleep(0.5)
    job = store.get(job_id)
    if job.state.value != "completed":
        raise SystemExit(f"job {job_id} ended {job.state.value}: {job.error}")
    return {"seconds": (job.ended or 0) - (job.started or 0), "folder": Path(job.run_dir)}


def train_in_worker(spec: object, outputs: Path, run: Path) -> Path:
    """The training job of `spec` (a TrainSpec) into `run`, run to its end by the studio's worker in the foreground,
    on the CPU; its best.pt. CalledProcessError when the worker fails."""
    import subprocess
    import sys

    from mlcore.core import paths
    from mlcore.jobs.store import JobState, JobStore

    store = JobStore(outputs / paths.JOBS_DB)
    job = store.submit("training", spec.to_dict(), str(run))  # type: ignore[attr-defined]
    store.transition(job.id, JobState.STARTING, device="cpu")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "ML_STUDIO_OUTPUTS": str(outputs), "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-m", "mlcore.worker", job.id], env=env, check=True, capture_output=True)
    return run / "weights" / "best.pt"
