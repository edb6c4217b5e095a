"""Submitting an evaluation: a model measured on one split of a dataset, as a queued worker job.

Everything that can be checked without loading the model is checked first: the model must lie in
a trusted folder (a .pt file is code), the dataset under the allowed roots, the split must exist.
Images whose labels have validation errors are left out, and the job lists them.

    job = submit_evaluation(EvalSpec(model_path=..., dataset_path=...), settings)
    # ml_outputs/validations/{model_name}_{timestamp}/: metrics.json, predictions.npz, ...
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from mlcore.core import paths
from mlcore.core.folders import stamped_folder, write_request
from mlcore.core.hashing import file_sha256
from mlcore.core.safe_paths import trusted_model
from mlcore.core.settings import Settings
from mlcore.datasets.loader import usable_split
from mlcore.datasets.validation.fingerprint import fingerprint_of
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.report import skipped_files
from mlcore.datasets.validation.validate import validate
from mlcore.engine.heads import head_of
from mlcore.engine.trained_size import image_size
from mlcore.evaluation.spec import EvalSpec
from mlcore.jobs.kinds import KINDS, JobKind, JobTask
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import Job


def model_name(model: Path) -> str:
    """trainings/logos/v1/weights/best.pt -> v1_best; registry/logos/v2/best.pt -> logos-v2; yolov8n.pt -> yolov8n."""
    if model.parent.name == paths.WEIGHTS_DIR:
        name = f"{model.parent.parent.name}_{model.stem}"
    elif model.parent.parent.parent.name == paths.REGISTRY_DIR:
        name = f"{model.parent.parent.name}-{model.parent.name}"
    else:
        name = model.stem
    return re.sub(r"[^\w.-]+", "_", name)[:60]


def identity(model: Path, dataset: Path) -> dict[str, str]:
    """What makes two evaluations of one split interchangeable: the model's and the dataset's fingerprints."""
    return {"model_sha256": file_sha256(model), "dataset_fingerprint": fingerprint_of(dataset)}


def submit_evaluation(spec: EvalSpec, settings: Settings, owner: str = "local", model: Path | None = None) -> Job:
    """Queue the evaluation. `model`: the model file already checked by the caller (an export may be
    evaluated that way); else `spec.model_path` must be a trusted .pt."""
    model = model or trusted_model(spec.model_path, settings)
    dataset_path, _ = usable_split(spec.dataset_path, settings, spec.split, partial=True)
    nms_free = head_of(model, spec.nms_free)
    size = image_size(spec.imgsz, model, settings)
    report = validate(dataset_path, ValidationOptions(near_duplicates=False, imgsz=size.used))
    skipped = skipped_files(report, spec.split)
    folder = stamped_folder(settings.outputs_root / KINDS[JobKind.EVALUATION].folder, model_name(model))
    final = replace(spec, model_path=str(model), dataset_path=str(dataset_path), imgsz=size.used, nms_free=nms_free)
    recorded = {**final.to_dict(), "trained_imgsz": size.trained, "skipped": skipped, **identity(model, dataset_path)}
    write_request(folder, KINDS[JobKind.EVALUATION].request, recorded)
    return enqueue(settings, JobKind.EVALUATION, {"task": JobTask.EVALUATE, **recorded}, folder, owner, made=folder)
