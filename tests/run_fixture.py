"""Run folders written the way the worker and Ultralytics write them, with chosen numbers."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import yaml

from mlcore.core import paths
from mlcore.core.settings import Settings
from mlcore.jobs.store import JobState, JobStore

HEADER = (
    "epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
    "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2"
)
NAMES = ("solara", "aqualine", "verdant")


def results_csv(epochs: int, seconds_per_epoch: float = 10.0, pace: float = 1.0) -> str:
    rows = []
    for e in range(1, epochs + 1):
        m = 1 - math.exp(-pace * e / 5)
        loss = 2.0 * math.exp(-e / 8) + 0.5
        rows.append(
            f"{e},{seconds_per_epoch * e:.1f},{loss:.4f},{loss * 1.2:.4f},{loss * 0.9:.4f},{0.9 * m:.4f},"
            f"{0.85 * m:.4f},{0.95 * m:.4f},{0.7 * m:.4f},{loss * 1.1:.4f},{loss * 1.3:.4f},{loss:.4f},"
            f"{0.01 * (1 - e / (epochs + 1)):.6f},{0.01:.6f},{0.01:.6f}"
        )
    return HEADER + "\n" + "\n".join(rows) + "\n"


def metrics_json(names: tuple[str, ...] = NAMES) -> dict:
    x = [i / 999 for i in range(1000)]
    classes = [
        {
            "id": i,
            "name": n,
            "precision": 0.9 - 0.1 * i,
            "recall": 0.8 - 0.1 * i,
            "ap50": 0.85 - 0.1 * i,
            "ap50_95": 0.6 - 0.1 * i,
            "instances": 40 + i,
            "images": 30 + i,
        }
        for i, n in enumerate(names)
    ]
    f1 = [[4 * v * (1 - v) * (0.9 - 0.1 * i) for v in x] for i in range(len(names))]
    pr = [[max(0.0, 1 - v**2 * (1 + 0.3 * i)) for v in x] for i in range(len(names))]
    n = len(names) + 1
    matrix = [[0.0] * n for _ in range(n)]
    for i in range(len(names)):
        matrix[i][i] = 30.0 + i
    matrix[0][1], matrix[n - 1][2], matrix[1][n - 1] = 3.0, 5.0, 4.0  # a confusion, a miss, a false alarm
    return {
        "precision": 0.8,
        "recall": 0.7,
        "map50": 0.75,
        "map50_95": 0.5,
        "classes": classes,
        "curves": {
            "Precision-Recall(B)": {"x": x, "y": pr, "xlabel": "Recall", "ylabel": "Precision"},
            "F1-Confidence(B)": {"x": x, "y": f1, "xlabel": "Confidence", "ylabel": "F1"},
            "Precision-Confidence(B)": {"x": x, "y": pr, "xlabel": "Confidence", "ylabel": "Precision"},
            "Recall-Confidence(B)": {"x": x, "y": pr, "xlabel": "Confidence", "ylabel": "Recall"},
        },
        "confusion_matrix": matrix,
        "confusion_axes": [*names, "background"],
        "speed_ms": {"inference": 1.0},
    }


def make_run(
    outputs: Path,
    name: str = "logos/v1",
    epochs: int = 6,
    metrics: bool = True,
    done: int | None = None,
    seconds_per_epoch: float = 10.0,
    **spec: object,
) -> Path:
    """A studio run under outputs/trainings/{name} of `epochs` epochs, `done` of them in results.csv (default all:
    a finished run)."""
    run = outputs / "trainings" / name
    (run / "weights").mkdir(parents=True)
    config = {
        "mode": "full",
        "dataset_path": "/data/logos",
        "model_architecture": "yolov8n",
        "epochs": epochs,
        "imgsz": 640,
        "batch_size": 16,
        "project": run.parent.name,
        "experiment": run.name,
        **spec,
    }
    (run / "training_config.yaml").write_text(yaml.safe_dump(config))
    (run / "args.yaml").write_text(
        yaml.safe_dump({"model": "yolov8n.yaml", "epochs": epochs, "imgsz": config["imgsz"]})
    )
    (run / "results.csv").write_text(results_csv(epochs if done is None else done, seconds_per_epoch))
    (run / "weights" / "best.pt").write_bytes(b"weights")
    (run / "train.log").write_text(f"{epochs} epochs completed\n")
    if metrics:
        (run / "metrics.json").write_text(json.dumps(metrics_json()))
    return run


@contextmanager
def cpu_held(settings: Settings) -> Iterator[str]:
    """occupy_the_cpu for the block only: new CPU jobs stay queued in it, and the outputs are as before after it
    (for a test on an outputs root that other tests share)."""
    job_id = occupy_the_cpu(settings)
    try:
        yield job_id
    finally:
        JobStore(settings.outputs_root / paths.JOBS_DB).transition(job_id, JobState.COMPLETED)
        shutil.rmtree(settings.outputs_root / paths.TRAININGS_DIR / "other" / "busy", ignore_errors=True)


def occupy_the_cpu(settings: Settings) -> str:
    """A running CPU job held by this test process, so that new CPU jobs wait in the queue."""
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    run_dir = settings.outputs_root / paths.TRAININGS_DIR / "other" / "busy"
    run_dir.mkdir(parents=True)
    job = store.submit("training", {"mode": "full", "device": "cpu", "epochs": 5}, str(run_dir))
    me = psutil.Process()
    store.transition(job.id, JobState.STARTING, device="cpu")
    store.transition(job.id, JobState.RUNNING, pid=os.getpid(), pid_started=me.create_time())
    (run_dir / "progress.json").write_text(
        json.dumps({"epoch": 2, "epochs": 5, "batch": 3, "batches": 10, "percent": 26.0, "eta_s": 300})
    )
    return job.id
