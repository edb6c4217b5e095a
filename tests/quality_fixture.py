"""Data-quality job folders written by the jobs' own writers, from made-up predictions (no model needed)."""

from __future__ import annotations

from pathlib import Path

from mlcore.core import paths
from mlcore.core.settings import Settings
from mlcore.datasets.loader import load_dataset
from mlcore.jobs.store import Job, JobState, open_store
from mlcore.quality.audit import audit
from mlcore.quality.audit_task import label_lines, write_audit
from tests.evaluation_fixture import made_up_detections


def _completed(settings: Settings, kind: str, spec: dict, folder: Path) -> Job:
    store = open_store(settings)
    job = store.submit(kind, spec, str(folder))
    for state in (JobState.STARTING, JobState.RUNNING, JobState.COMPLETED):
        store.transition(job.id, state, **({"device": "cpu"} if state is JobState.STARTING else {}))
    return store.get(job.id)


def made_audit(settings: Settings, dataset: Path) -> tuple[Job, dict]:
    """An audit folder written by the job's own writer, from made-up predictions on the val split."""
    d = made_up_detections(dataset, "val")
    result = audit(d, label_lines(load_dataset(dataset), [str(dataset / i) for i in d.images]))
    folder = settings.outputs_root / paths.AUDITS_DIR / "made_val_20261201-120000-000000"
    folder.mkdir(parents=True)
    meta = {
        "split": "val",
        "model_path": "made.pt",
        "dataset_path": str(dataset),
        "kfold": 0,
        "in_sample": False,
        "skipped": [],
        "timings_s": {"prediction": 1.0, "analysis": 0.1},
    }
    document = write_audit(folder, d, result, dataset, meta)
    return _completed(settings, "audit", {"task": "audit", **meta}, folder), document
