"""Submitting the data-quality jobs: everything that can be checked without a model is checked first.

job = submit_audit(AuditSpec(model_path=..., dataset_path=..., split="val"), settings)
job = submit_audit(AuditSpec(..., split="train", kfold=5), settings)   # a coordinator of 5 trainings
job = submit_selection(SelectSpec(model_path=..., images=...), settings)
job = submit_drift(DriftSpec(images=..., dataset_path=...), settings)
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.folders import stamped_folder, write_request
from mlcore.core.safe_paths import resolve_model, trusted_model
from mlcore.core.settings import Settings
from mlcore.datasets.loader import Dataset, label_path, usable_split
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.report import skipped_files
from mlcore.datasets.validation.validate import validate
from mlcore.devices.leases import NO_DEVICE
from mlcore.engine.heads import head_of
from mlcore.engine.trained_size import SizeChoice, image_size
from mlcore.evaluation.submit import model_name
from mlcore.jobs.kinds import KINDS, JobKind, JobTask
from mlcore.jobs.progress import duration
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import Job
from mlcore.predict.sources import SourceError, image_folder
from mlcore.quality.spec import AuditSpec, DriftSpec, SelectSpec
from mlcore.runs.store import read_run

KFOLD_SEED = 0


def _image_folder(text: str, settings: Settings) -> tuple[Path, int]:
    try:
        folder, images = image_folder(text, settings)
    except SourceError as exc:
        raise SubmitError(str(exc)) from None
    return folder, len(images)


def _sizes(size: SizeChoice) -> dict[str, int | None]:
    """What a job records of its image size: the one it runs at, and the model's trained one."""
    return {"imgsz": size.used, "trained_imgsz": size.trained}


def _epochs(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


# What K-fold gained on benchmarks/audit_accuracy.py --kfold (demo-a's train split, 210 images, 10% of its boxes
# planted wrong; a YOLOv8n trained on it for 40 epochs at 160 px with Ultralytics' augmentation; 2-core CPU).
KFOLD_MEASURED = (
    "Measured on a generated train split with 10% of its boxes wrong and a model trained on it for 40 epochs with "
    "augmentation: in sample, 36 of the 37 planted errors were among the first 74 suspects (AUROC 0.98) in 8 s; with "
    "2 folds the same 36 (0.98), in 75 s; with 5 folds 36 (0.98), in 256 s. K-fold pays off when a model has memorised "
    "its labels (many epochs on few images, little augmentation), not for one like this."
)


def kfold_cost_sentence(k: int, epochs: int, images: int | None = None, seconds_per_image: float | None = None) -> str:
    """What the K fold trainings cost, in epochs over the whole split (a unit a user knows): each of the K trainings
    sees the split without one fold, so together they are (K-1) x `epochs` epochs over it. With the split's image
    count, the sizes; with the seconds an image took in the model's own training, a time too."""
    if images is None:
        return (
            f"{k} trainings of {_epochs(epochs)} on {k - 1}/{k} of the split each: as much training as "
            f"{_epochs((k - 1) * epochs)} over the whole split, then one prediction of every image."
        )
    low, high = images - -(-images // k), images - images // k  # the folds differ by one image at most
    each = str(low) if low == high else f"{low}-{high}"
    guess = (
        ""
        if seconds_per_image is None
        else (
            f", about {duration((k - 1) * epochs * images * seconds_per_image)} at the pace of the model's own training"
        )
    )
    return (
        f"{k} trainings of {_epochs(epochs)} on {each} of the split's {images} images each: as much training as "
        f"{_epochs((k - 1) * epochs)} over the whole split{guess}; then the {images} images predicted once."
    )


def seconds_per_image(model: Path, dataset_path: Path, imgsz: int, train_images: int) -> float | None:
    """Seconds per image of an epoch of the model's own training (its results.csv's time, validation included),
    when a studio run trained it on this dataset at this image size; None otherwise (no fair guess)."""
    if model.parent.name != paths.WEIGHTS_DIR or train_images < 1:
        return None
    run = read_run(model.parent.parent)
    if run is None or not run.seconds or not run.epochs_done or run.spec.get("imgsz") != imgsz:
        return None
    trained = Path(str(run.spec.get("dataset_path") or "")).resolve()
    folders = {p.parent if p.suffix in (".yaml", ".yml") else p for p in (trained, dataset_path.resolve())}
    return run.seconds / run.epochs_done / train_images if len(folders) == 1 else None


def kfold_cost(spec: AuditSpec, images: int, pace: float | None = None) -> dict[str, Any]:
    """What a K-fold audit costs before it starts: K trainings, each of `kfold_epochs` epochs over the split's
    `images` without one fold, then one prediction of each fold (`pace`: seconds_per_image, if known)."""
    passes = (spec.kfold - 1) * spec.kfold_epochs * images  # each image is in K-1 of the trainings
    return {
        "trainings": spec.kfold,
        "epochs_each": spec.kfold_epochs,
        "images_each": round(images * (spec.kfold - 1) / spec.kfold),
        "image_epochs": passes,
        "split_epochs": (spec.kfold - 1) * spec.kfold_epochs,
        "seconds": None if pace is None else round(passes * pace, 1),
        "sentence": kfold_cost_sentence(spec.kfold, spec.kfold_epochs, images, pace),
    }


def assign_folds(images: list[str], k: int, seed: int = KFOLD_SEED) -> list[list[str]]:
    """The split's images in K folds of nearly equal size, shuffled with a fixed seed (the same K, the same folds)."""
    order = sorted(images)
    random.Random(seed).shuffle(order)
    return [sorted(order[n::k]) for n in range(k)]


def write_fold_datasets(dataset: Dataset, folds: list[list[str]], split: str, folder: Path) -> list[str]:
    """folds/fold-{k}/data.yaml per fold: train on the other folds, validate on the dataset's val split (or,
    auditing val, on the held-out fold), never on the images the fold model will predict for the audit."""
    root = Path(str(dataset.root))
    names = dataset.names
    validation = dataset.splits.get("val") if split != "val" else None
    written = []
    for k, held_out in enumerate(folds):
        here = folder / paths.FOLDS_DIR / f"fold-{k}"
        here.mkdir(parents=True)
        train = [str(root / i) for j, fold in enumerate(folds) if j != k for i in fold]
        val = list(validation) if validation else [str(root / i) for i in held_out]
        (here / "train.txt").write_text("".join(f"{p}\n" for p in train))
        (here / "val.txt").write_text("".join(f"{p}\n" for p in val))
        data = {"path": str(here), "train": "train.txt", "val": "val.txt", "nc": len(names), "names": names}
        (here / paths.DATA_YAML).write_text(yaml.safe_dump(data, sort_keys=False))
        written.append(str(here / paths.DATA_YAML))
    return written


def submit_audit(spec: AuditSpec, settings: Settings, owner: str = "local") -> Job:
    """Check the model, the dataset and the split, then queue the audit (or, with kfold, its coordinator)."""
    model = trusted_model(spec.model_path, settings)
    head_of(model, spec.nms_free)
    dataset_path, dataset = usable_split(spec.dataset_path, settings, spec.split)
    images = dataset.splits[spec.split]
    if not any(Path(label_path(i)).is_file() for i in images):
        raise SubmitError(
            f"no image of the '{spec.split}' split has a label file (labels/{spec.split}/*.txt): there is nothing "
            "to audit. Label the split first, or pick a labelled one."
        )
    size = image_size(spec.imgsz, model, settings)
    report = validate(dataset_path, ValidationOptions(near_duplicates=False, imgsz=size.used))
    skipped = skipped_files(report, spec.split)
    usable = [
        dataset.rel(i) for i in images if dataset.rel(i) not in skipped and dataset.rel(label_path(i)) not in skipped
    ]
    if spec.kfold and spec.kfold > len(usable):
        raise SubmitError(
            f"kfold={spec.kfold} is more folds than the split has usable images ({len(usable)}); use at most "
            f"{len(usable)}, e.g. 5."
        )
    folder = stamped_folder(settings.outputs_root / KINDS[JobKind.AUDIT].folder, f"{model_name(model)}_{spec.split}")
    record: dict[str, Any] = {
        **spec.to_dict(),
        **_sizes(size),
        "model_path": str(model),
        "dataset_path": str(dataset_path),
        "skipped": skipped,
    }
    if not spec.kfold:
        write_request(folder, KINDS[JobKind.AUDIT].request, record)
        return enqueue(settings, JobKind.AUDIT, {"task": JobTask.AUDIT, **record}, folder, owner, made=folder)
    folds = assign_folds(usable, spec.kfold)
    pace = seconds_per_image(model, dataset_path, size.used, len(dataset.splits.get("train") or []))
    record |= {
        "fold_images": folds,
        "fold_datasets": write_fold_datasets(dataset, folds, spec.split, folder),
        "cost": kfold_cost(spec, len(usable), pace),
    }
    write_request(folder, KINDS[JobKind.AUDIT].request, record)
    # the coordinator holds no device: the fold trainings, then the analysis job, each lease their own
    return enqueue(
        settings,
        JobKind.AUDIT,
        {**record, "task": JobTask.KFOLD, "device": NO_DEVICE, "fold_device": spec.device},
        folder,
        owner,
        made=folder,
    )


def submit_selection(spec: SelectSpec, settings: Settings, owner: str = "local") -> Job:
    model = resolve_model(spec.model_path, settings)
    images, count = _image_folder(spec.images, settings)
    folder = stamped_folder(settings.outputs_root / KINDS[JobKind.SELECTION].folder, model_name(model))
    record = {
        **spec.to_dict(),
        **_sizes(image_size(spec.imgsz, model, settings)),
        "model_path": str(model),
        "images": str(images),
        "expected_images": count,
    }
    write_request(folder, KINDS[JobKind.SELECTION].request, record)
    return enqueue(settings, JobKind.SELECTION, {"task": JobTask.SELECT, **record}, folder, owner, made=folder)


def submit_drift(spec: DriftSpec, settings: Settings, owner: str = "local") -> Job:
    model = resolve_model(spec.model_path, settings) if spec.model_path else None
    dataset_path, dataset = usable_split(spec.dataset_path, settings)
    if not dataset.splits.get(spec.split):
        raise SubmitError(
            f"the reference has no images: the dataset's '{spec.split}' split is empty or missing; pick the split "
            "the model was trained on (usually train)."
        )
    images, count = _image_folder(spec.images, settings)
    folder = stamped_folder(settings.outputs_root / KINDS[JobKind.DRIFT].folder, images.name or "images")
    sizes = _sizes(image_size(spec.imgsz, model, settings)) if model else {}
    record = {
        **spec.to_dict(),
        **sizes,
        "model_path": None if model is None else str(model),
        "images": str(images),
        "dataset_path": str(dataset_path),
        "expected_images": count,
    }
    write_request(folder, KINDS[JobKind.DRIFT].request, record)
    return enqueue(settings, JobKind.DRIFT, {"task": JobTask.DRIFT, **record}, folder, owner, made=folder)
