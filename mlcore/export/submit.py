"""Submitting an export: everything that can be checked before a process starts is checked here.

The model must lie in a trusted folder and be a detection checkpoint; each format must be offered
and its runtime installed; the image size a multiple of the stride; the dataset (for the parity
check and INT8 calibration) under the allowed roots, with images in the split and the model's
classes; and the disk must have room.

    job = submit_export(ExportSpec(model_path=..., formats=("onnx", "openvino")), settings)
    # ml_outputs/exports/{model_name}_{timestamp}/: best.onnx, best_openvino_model/, model_card.json, ...
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from mlcore.core.errors import SubmitError
from mlcore.core.folders import stamped_folder, write_request
from mlcore.core.safe_paths import nearest_existing, trusted_model
from mlcore.core.settings import Settings
from mlcore.core.spec import DEFAULT_IMGSZ
from mlcore.datasets.loader import missing_split, usable_split
from mlcore.devices.gpus import read_gpus
from mlcore.engine.checkpoint import CheckpointError, CheckpointInfo, inspect_checkpoint
from mlcore.engine.heads import head_of
from mlcore.evaluation.class_names import names_mismatch
from mlcore.evaluation.submit import model_name
from mlcore.export.formats import FORMATS, why_no_nms_free_head, why_unavailable
from mlcore.export.spec import AUTO_SPLIT, ExportSpec
from mlcore.jobs.kinds import KINDS, JobKind, JobTask
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import Job
from mlcore.runs.store import trained_on

MIN_FREE_DISK_GB = 0.5


def format_precision(name: str, precision: str) -> str:
    """The precision `name` is exported at: the spec's where the format has it (int8: OpenVINO and TensorRT)."""
    known = FORMATS.get(name)
    return precision if known is not None and precision in known.precisions else "fp32"


def check_model(model: Path, settings: Settings) -> CheckpointInfo:
    """The checkpoint's classes and image size; a file that is not a detection checkpoint is refused."""
    try:
        info = inspect_checkpoint(model, settings)
    except CheckpointError as exc:
        raise SubmitError(f"{model} is not a YOLO checkpoint that can be exported: {exc}") from None
    if info.task != "detect":
        raise SubmitError(f"{model} is a {info.task} model; the studio exports detection models.")
    if not info.names:
        raise SubmitError(f"{model} holds no class names; export a best.pt or last.pt that a training wrote.")
    return info


def parity_split(splits: dict[str, list], wanted: str) -> str | None:
    """The split the check runs on: `wanted`, or test (else val) for auto; None when it has no images."""
    if wanted == AUTO_SPLIT:
        return next((s for s in ("test", "val") if splits.get(s)), None)
    return wanted if splits.get(wanted) else None


def submit_export(spec: ExportSpec, settings: Settings, owner: str = "local") -> Job:
    """Check everything, write export_config.yaml, queue the export job and run a scheduling step."""
    model = trusted_model(spec.model_path, settings)
    gpu = spec.device != "cpu" and read_gpus().available
    problems = [why for f in spec.formats if (why := why_unavailable(f, format_precision(f, spec.precision), gpu))]
    if spec.nms_free:
        problems += [why for f in spec.formats if (why := why_no_nms_free_head(f))]
    if problems:
        raise SubmitError(" ".join(problems))
    info = check_model(model, settings)
    head_of(model, spec.nms_free)
    imgsz = spec.imgsz or info.imgsz or DEFAULT_IMGSZ
    dataset_text = spec.dataset_path or trained_on(model)
    split = None
    if spec.parity or spec.precision == "int8":
        if not dataset_text:
            raise SubmitError(
                "the parity check and INT8 calibration need the model's own dataset, and this model was not "
                "trained by the studio: give its dataset (--data PATH), or turn the parity check off."
            )
        dataset_path, dataset = usable_split(dataset_text, settings, partial=True)
        split = parity_split(dataset.splits, spec.split)
        if split is None:
            wanted = "test or val" if spec.split == AUTO_SPLIT else spec.split
            raise SubmitError(missing_split(dataset, f"images in {wanted}"))
        if spec.precision == "int8" and not dataset.splits.get("val"):
            raise SubmitError("INT8 calibration reads the dataset's val images, and it has none; add a val split.")
        if mismatch := names_mismatch(info.names, dataset.names):
            raise SubmitError(f"the parity check would be wrong: {mismatch}")
        dataset_text = str(dataset_path)
    free_gb = shutil.disk_usage(nearest_existing(settings.outputs_root)).free / 1024**3
    if free_gb < MIN_FREE_DISK_GB:
        raise SubmitError(f"only {free_gb:.1f} GiB free under {settings.outputs_root}; free some space first.")
    try:
        folder = stamped_folder(settings.outputs_root / KINDS[JobKind.EXPORT].folder, model_name(model))
    except FileExistsError as exc:
        raise SubmitError(f"{exc.filename} exists already; submit the export again in a moment.") from None
    final = replace(spec, model_path=str(model), imgsz=imgsz, dataset_path=dataset_text, split=split or spec.split)
    record = {**final.to_dict(), "names": info.names, "trained_imgsz": info.imgsz}
    write_request(folder, KINDS[JobKind.EXPORT].request, record)
    return enqueue(settings, JobKind.EXPORT, {"task": JobTask.EXPORT, **record}, folder, owner, made=folder)
