"""A registry world without training: weights files of random bytes, run folders, and evaluations written the
way the evaluation job writes them (with the model's sha256 and the dataset's fingerprint), so that
comparisons and the promotion gate can be checked in seconds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.hashing import file_sha256
from mlcore.datasets.validation.fingerprint import fingerprint_of
from mlcore.evaluation.analysis import Detections, analyze
from mlcore.evaluation.task import evaluation_summary
from tests.evaluation_fixture import made_up_detections
from tests.run_fixture import make_run, metrics_json


def fake_weights(path: Path, seed: int = 0, size: int = 4096) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(seed).bytes(size))
    return path


def run_with_weights(outputs: Path, name: str, dataset: Path, seed: int = 0, **spec: object) -> Path:
    """A finished run folder (training_config.yaml, results.csv) with a best.pt of random bytes; its best.pt."""
    folder = make_run(outputs, name, dataset_path=str(dataset), **spec)
    return fake_weights(folder / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS, seed)


def shifted(d: Detections, fraction: float) -> Detections:
    """The same predictions with every box moved right by `fraction` of its width."""
    box = d.pred_box.copy()
    shift = (box[:, 2] - box[:, 0]) * fraction
    box[:, 0] += shift
    box[:, 2] += shift
    return replace(d, pred_box=box)


def recorded_evaluation(
    outputs: Path,
    dataset: Path,
    model: Path,
    split: str = "test",
    imgsz: int = 640,
    detections: Detections | None = None,
    name: str | None = None,
    seed: int = 3,
) -> Path:
    """validations/{name}/ for `model` on `split`, as the evaluation job leaves it."""
    folder = outputs / paths.VALIDATIONS_DIR / (name or f"{model.parent.parent.name}_{model.stem}_{split}_{seed}")
    folder.mkdir(parents=True)
    spec = {
        "model_path": str(model),
        "dataset_path": str(dataset),
        "split": split,
        "confidence_threshold": 0.25,
        "iou_threshold": 0.45,
        "imgsz": imgsz,
        "device": "cpu",
        "save_predictions": True,
        "analyze_errors": True,
        "skipped": [],
        "model_sha256": file_sha256(model),
        "dataset_fingerprint": fingerprint_of(dataset),
    }
    (folder / paths.EVAL_CONFIG).write_text(yaml.safe_dump(spec, sort_keys=False))
    d = detections if detections is not None else made_up_detections(dataset, split, seed)
    d.save(folder / paths.PREDICTIONS_FILE)
    names = tuple(d.names[k] for k in sorted(d.names))
    summary = evaluation_summary(d, analyze(d, 0.25, 0.45), metrics_json(names))
    summary |= {"skipped": [], "output_dir": str(folder), "dataset_root": str(dataset)}
    write_json_atomically(folder / paths.METRICS_FILE, summary)
    return folder
