"""The drift job, run by the worker: new images against a dataset's split, and with a model its predictions too.

The reference is the split's images (a seeded sample of REFERENCE_SAMPLE when it has more); the new images are
every image of the folder. Unreadable images are skipped and listed. The job writes drift.json (the report of
quality.drift with the counts and what was skipped) and tails/{feature}/, thumbnails of the new images at the
drifted end of each feature.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.errors import TaskError
from mlcore.core.settings import Settings
from mlcore.datasets.loader import load_dataset
from mlcore.devices.leases import ultralytics_device
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.progress import write_progress
from mlcore.jobs.store import Job, JobStore, ProgressState
from mlcore.predict.detector import load_detector, names_of
from mlcore.predict.sources import folder_images
from mlcore.quality.drift import drift_report, image_statistics, prediction_statistics

REFERENCE_SAMPLE = 2000  # reference images read at most: enough for ten PSI bins, bounded on large datasets
PREDICTION_CONFIDENCE = 0.1  # boxes counted in the prediction statistics (lower than a deployment's threshold, so
# that a model growing unsure shows as lower confidences rather than as boxes gone)
CHUNK = 16
TAIL_SIDE = 320


class DriftError(TaskError):
    """The images cannot be compared; the message says why."""


def run(job: Job, settings: Settings, store: JobStore) -> int:
    return run_to_end(store, job, lambda: run_drift(job, settings))


def _span(folder: Path, step: str, start: float, width: float) -> Callable[[int, int], None]:
    return lambda done, total: write_progress(folder, start + width * done / max(1, total), step)


def predictions_of(model: Any, images: list[str], imgsz: int, device: str, report: Callable[[int, int], None]) -> list:
    """(class, confidence) of every box at PREDICTION_CONFIDENCE, per image."""
    found = []
    for start in range(0, len(images), CHUNK):
        chunk = images[start : start + CHUNK]
        results = model.predict(chunk, conf=PREDICTION_CONFIDENCE, imgsz=imgsz, device=device, verbose=False)
        for r in results:
            found.append([(int(c), float(p)) for c, p in zip(r.boxes.cls.tolist(), r.boxes.conf.tolist(), strict=True)])
        report(start + len(chunk), len(images))
    return found


def write_tails(folder: Path, report: dict[str, Any], current: list[str], root: Path) -> None:
    """Thumbnails of each drifted feature's tail images; each entry's `tails` becomes their paths and files."""
    for entry in report["features"]:
        examples = []
        for rank, index in enumerate(entry.get("tails") or []):
            source = Path(current[index])
            name = f"{rank + 1:02d}_{source.stem[:60]}.jpg"
            target = folder / paths.TAILS_DIR / entry["name"] / name
            try:
                with Image.open(source) as im:
                    picture = ImageOps.exif_transpose(im).convert("RGB")
                picture.thumbnail((TAIL_SIDE, TAIL_SIDE))
                target.parent.mkdir(parents=True, exist_ok=True)
                picture.save(target, "JPEG", quality=85)
            except OSError:
                continue
            examples.append({"path": source.relative_to(root).as_posix(), "picture": f"{entry['name']}/{name}"})
        entry["tails"] = examples


def run_drift(job: Job, settings: Settings) -> None:
    folder, spec = Path(job.run_dir), job.spec
    dataset = load_dataset(Path(spec["dataset_path"]))
    reference = sorted(dataset.splits.get(spec["split"]) or [])
    sampled = len(reference) > REFERENCE_SAMPLE
    if sampled:
        reference = sorted(random.Random(0).sample(reference, REFERENCE_SAMPLE))
    root = Path(spec["images"])
    current = [str(p) for p in folder_images(root)]  # the images the model reads, as the selection and predictions
    with_model = bool(spec.get("model_path"))
    share = 40.0 if with_model else 50.0
    ref_stats, ref_kept, ref_skipped = image_statistics(
        [Path(p) for p in reference], _span(folder, "reading the training images", 0, share)
    )
    cur_stats, cur_kept, cur_skipped = image_statistics(
        [Path(p) for p in current], _span(folder, "reading the new images", share, share)
    )
    if not cur_kept:
        raise DriftError(f"none of the {len(current)} images in {root} could be read; see `skipped` in the log.")
    if not ref_kept:
        raise DriftError(f"none of the reference images of the '{spec['split']}' split could be read.")
    kept = [current[i] for i in cur_kept]
    ref_predictions = cur_predictions = None
    names = dataset.names
    if with_model:
        device = ultralytics_device(job.device)
        model = load_detector(Path(spec["model_path"]), device)
        names = names_of(model)
        ref_found = predictions_of(
            model,
            [reference[i] for i in ref_kept],
            spec["imgsz"],
            device,
            _span(folder, "predicting on the training images", 80, 8),
        )
        cur_found = predictions_of(
            model, kept, spec["imgsz"], device, _span(folder, "predicting on the new images", 88, 8)
        )
        ref_predictions = prediction_statistics(ref_found, len(names))
        cur_predictions = prediction_statistics(cur_found, len(names))
    report = drift_report(ref_stats, cur_stats, ref_predictions, cur_predictions, names=names)
    write_tails(folder, report, kept, root)
    document = {
        **report,
        "images": str(root),
        "dataset_path": spec["dataset_path"],
        "split": spec["split"],
        "model_path": spec.get("model_path"),
        "reference_sampled": sampled,
        "skipped": [{"path": p, "reason": r, "set": "new"} for p, r in cur_skipped]
        + [{"path": p, "reason": r, "set": "reference"} for p, r in ref_skipped],
    }
    write_json_atomically(folder / paths.DRIFT_FILE, document)  # last: its presence means the report is complete
    write_progress(folder, 100, state=ProgressState.COMPLETED)
