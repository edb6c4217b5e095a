"""The evaluation job, run by the worker process: one Ultralytics validation, kept in full.

`model.val()` gives the standard numbers (so they equal Ultralytics' own); every prediction it
makes (confidence >= 0.001, boxes scaled to original-image pixels) is kept with the image it came
from, next to the ground truth read from the labels, and stored as predictions.npz.
From those the job computes the analysis at the spec's thresholds and writes, in its folder:

    metrics.json       Ultralytics' numbers, and ours at the chosen confidence and IoU
    predictions.npz    every prediction and ground-truth box (the page re-thresholds from it)
    confusion_matrix.png, predictions/ (YOLO txt with confidences, predictions_coco.json),
    error_samples/{error type}/ (images with ground truth and predictions drawn), eval_config.yaml
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.charts.drawing import draw_comparison
from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.class_names import class_names
from mlcore.core.errors import TaskError
from mlcore.core.paths import METRICS_FILE, PREDICTIONS_FILE, PROGRESS_FILE
from mlcore.core.settings import Settings
from mlcore.datasets.images import inspect_image
from mlcore.datasets.labels import parse_label
from mlcore.datasets.loader import Dataset, label_path, load_dataset
from mlcore.datasets.staging import stage_dataset
from mlcore.devices.leases import ultralytics_device
from mlcore.engine.heads import check_head, head_label, ultralytics_head
from mlcore.engine.metrics import metrics_to_dict
from mlcore.engine.models import UnusableModel, load_yolo
from mlcore.engine.trained_size import SizeChoice
from mlcore.evaluation.analysis import (
    ERROR_TYPES,
    Analysis,
    Detections,
    analyze,
    average_precision,
    error_costs,
    with_ap,
)
from mlcore.evaluation.class_names import names_mismatch
from mlcore.evaluation.gallery import focus_box, gallery_images
from mlcore.evaluation.leakage import leakage_summary, training_copies
from mlcore.evaluation.predictions import write_predictions
from mlcore.evaluation.spec import NMS_IOU
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.store import Job, JobStore, ProgressState
from mlcore.tracking.evaluation import log_evaluation

SAMPLES_PER_TYPE = 24


class EvaluationError(TaskError):
    """The model and the dataset cannot be evaluated together; the message says why."""


def run(job: Job, settings: Settings, store: JobStore) -> int:
    """Evaluate the job's model on its split; the process exit code."""
    return run_to_end(store, job, lambda: evaluate(job, settings))


def evaluate(job: Job, settings: Settings) -> None:
    folder = Path(job.run_dir)
    spec = job.spec
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    dataset = load_dataset(Path(spec["dataset_path"]))
    skipped = set(spec.get("skipped") or [])
    images = [
        i
        for i in dataset.splits[spec["split"]]
        if dataset.rel(i) not in skipped and dataset.rel(label_path(i)) not in skipped
    ]
    dataset = replace(dataset, splits={**dataset.splits, spec["split"]: images})  # data.yaml needs train and val
    data_yaml = stage_dataset(dataset, settings.outputs_root / paths.STAGING_DIR / job.id)
    lap("staging")

    def progress(done: int, total: int) -> None:
        write_json_atomically(
            folder / PROGRESS_FILE,
            {
                "state": ProgressState.RUNNING,
                "batch": done,
                "batches": total,
                "percent": round(100 * done / max(1, total), 1),
                "updated": time.time(),
            },
        )

    detections, ultralytics = predict_split(
        spec["model_path"],
        dataset,
        images,
        data_yaml,
        spec["split"],
        spec["imgsz"],
        ultralytics_device(job.device),
        folder / "ultralytics",
        progress=progress,
        plots=True,
        rect=Path(spec["model_path"]).suffix == ".pt",  # an export has one fixed input size
        nms_free=bool(spec.get("nms_free")),
    )
    lap("validation")
    detections.save(folder / PREDICTIONS_FILE)
    lap("predictions_kept")
    result = analyze(detections, spec["confidence_threshold"], spec["iou_threshold"])
    summary = evaluation_summary(detections, result, ultralytics)
    lap("analysis")
    evaluated = set(detections.images)
    copies = [c for c in training_copies(dataset, spec["split"]) if c["image"] in evaluated]
    summary["leakage"] = leakage_summary(detections, copies, spec["split"], result.conf, result.iou)
    lap("leakage")
    produced = folder / "ultralytics" / "confusion_matrix.png"
    if produced.exists():
        shutil.copyfile(produced, folder / "confusion_matrix.png")
    if spec.get("save_predictions", True):
        write_predictions(detections, result, folder / "predictions")
        lap("prediction_files")
    if spec.get("analyze_errors", True):
        write_error_samples(detections, result, Path(str(dataset.root)), folder / "error_samples")
        lap("error_samples")
    if size := SizeChoice.of(spec):
        summary |= size.to_dict()
    summary |= {
        "nms_free": bool(spec.get("nms_free")),
        "head": head_label(bool(spec.get("nms_free"))),
        "skipped": sorted(skipped),
        "val_seconds": timings["validation"],
        "timings_s": timings,
        "output_dir": str(folder),
        "dataset_root": str(dataset.root),
    }
    write_json_atomically(folder / METRICS_FILE, summary)  # last: its presence means the evaluation is complete
    log_evaluation(settings, folder, spec, summary)  # to MLflow, when the bridge is on; never raises
    print("evaluation timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()), flush=True)
    finished = {"state": ProgressState.COMPLETED, "percent": 100.0, "updated": time.time()}
    write_json_atomically(folder / PROGRESS_FILE, finished)


def predict_split(
    model_path: str,
    dataset: Dataset,
    images: list[str],
    data_yaml: Path,
    split: str,
    imgsz: int,
    device: str,
    folder: Path,
    batch: int = 16,
    progress: Callable[[int, int], None] | None = None,
    plots: bool = False,
    rect: bool = True,
    nms_free: bool = False,
) -> tuple[Detections, dict[str, Any]]:
    """Run a model (a .pt, or an export Ultralytics can load) over `images` of the staged split with
    Ultralytics' validator, keeping every prediction; (the detections, Ultralytics' numbers).

    Ultralytics writes its own files into `folder`. `progress(done, total)` is called after each batch.
    `rect=True` is Ultralytics' own validation of a .pt (rectangular batches padded by half a stride);
    `rect=False` letterboxes every image to the same imgsz square, as a fixed-size export sees it. `nms_free` runs
    a YOLO26 .pt with its NMS-free head (mlcore.engine.heads)."""
    model = _load_model(model_path)
    check_head(model, nms_free, model_path)
    model_names = class_names(model.names)
    if mismatch := names_mismatch(model_names, dataset.names):
        raise EvaluationError(mismatch)
    recorded: dict[str, list[Any]] = {}
    model.add_callback("on_val_start", lambda v: _record_files(v, recorded))
    if progress is not None:
        model.add_callback("on_val_batch_end", lambda v: _count_batch(v, progress))
    metrics = model.val(
        data=str(data_yaml),
        split=split,
        imgsz=imgsz,
        batch=batch,
        save_json=True,
        plots=plots,
        device=device,
        project=str(folder.parent),
        name=folder.name,
        exist_ok=True,
        rect=rect,
        iou=NMS_IOU,
        **ultralytics_head(nms_free),
    )
    return _detections(dataset, images, recorded, imgsz), metrics_to_dict(metrics, model_names)


def _load_model(path: str) -> Any:
    try:
        return load_yolo(path, task=None)  # an export is run as the task its metadata records
    except UnusableModel as exc:
        if exc.task:
            message = f"{path} is a {exc.task} model; the studio evaluates detection models."
        else:
            message = (
                f"{path} cannot be loaded as a YOLO checkpoint ({exc.reason[:300]}). Pick a best.pt or last.pt that a "
                "training wrote, or an official detection model file."
            )
        raise EvaluationError(message) from exc.__cause__  # Ultralytics' own error, if any


def _record_files(validator: Any, recorded: dict[str, list[Any]]) -> None:
    """Keep every prediction, in original-image pixels at full precision, with its image file.

    Taken where Ultralytics scales its predictions for its JSON export, but without the clipping to
    the image that scaling applies: its metrics compare the unclipped boxes, and so must ours. Its
    own JSON export (rounded numbers, classes counted from 1) is not needed and not written."""
    scale = validator.scale_preds

    def keep(predn: Any, pbatch: dict[str, Any]) -> Any:
        (gain_y, gain_x), (pad_x, pad_y) = pbatch["ratio_pad"]
        boxes = predn["bboxes"].detach().cpu().double().numpy().reshape(-1, 4).copy()
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - pad_x) / gain_x
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - pad_y) / gain_y
        rows = np.column_stack([predn["cls"].cpu().numpy(), predn["conf"].cpu().numpy(), boxes])
        recorded.setdefault(os.path.realpath(pbatch["im_file"]), []).append(rows)
        return scale(predn, pbatch)

    validator.scale_preds = keep
    validator.pred_to_json = lambda predn, pbatch: None


def _count_batch(validator: Any, progress: Callable[[int, int], None]) -> None:
    done = getattr(validator, "_studio_batches", 0) + 1
    validator._studio_batches = done
    progress(done, len(validator.dataloader) if getattr(validator, "dataloader", None) else 0)


def _detections(dataset: Any, images: list[str], recorded: dict[str, list[Any]], imgsz: int) -> Detections:
    index = {os.path.realpath(i): n for n, i in enumerate(images)}
    sizes = np.zeros((len(images), 2), dtype=np.int32)
    gt_rows: list[tuple[int, int, float, float, float, float]] = []
    for n, image in enumerate(images):
        size = inspect_image(image).display_size or (0, 0)
        sizes[n] = size
        try:
            rows, _ = parse_label(Path(label_path(image)).read_bytes())
        except OSError:
            rows = []
        w, h = size
        for r in rows:
            gt_rows.append(
                (n, r.cls, (r.cx - r.w / 2) * w, (r.cy - r.h / 2) * h, (r.cx + r.w / 2) * w, (r.cy + r.h / 2) * h)
            )
    pred_rows = [np.empty((0, 7))]
    for file, blocks in recorded.items():
        at = index.get(file)
        if at is not None:
            block = np.concatenate(blocks)
            pred_rows.append(np.column_stack([np.full(len(block), at), block]))
    g = np.array(gt_rows, dtype=float).reshape(-1, 6)
    pr = np.concatenate(pred_rows).astype(float)
    return Detections(
        images=[dataset.rel(i) for i in images],
        sizes=sizes,
        names=dataset.names,
        gt_image=g[:, 0].astype(int),
        gt_cls=g[:, 1].astype(int),
        gt_box=g[:, 2:],
        pred_image=pr[:, 0].astype(int),
        pred_cls=pr[:, 1].astype(int),
        pred_conf=pr[:, 2],
        pred_box=pr[:, 3:],
        imgsz=imgsz,
    )


def evaluation_summary(d: Detections, result: Analysis, ultralytics: dict[str, Any]) -> dict[str, Any]:
    """The numbers of metrics.json: ours at the thresholds, mAP over all predictions, and Ultralytics' own."""
    ap = average_precision(d)
    per_class = with_ap(result.per_class, ap["per_class"])
    return {
        "thresholds": {"confidence": result.conf, "iou": result.iou},
        **result.overall,
        "map50": ap["map50"],
        "map50_95": ap["map50_95"],
        "per_class": per_class,
        "error_types": result.error_counts,
        "error_map50_cost": error_costs(d),
        "by_size": result.by_size,
        "confusion_matrix": result.confusion.tolist(),
        "confusion_axes": [*[d.names[k] for k in sorted(d.names)], "background"],
        "images": len(d.images),
        "ultralytics": ultralytics,
    }


def write_error_samples(d: Detections, result: Analysis, root: Path, folder: Path) -> None:
    """Up to SAMPLES_PER_TYPE images per error type, worst first, ground truth and predictions drawn.

    An image with errors of several types is drawn once and written into each type's folder."""
    drawn: dict[int, bytes | None] = {}
    for kind in ERROR_TYPES:
        chosen = gallery_images(d, result, kind)[:SAMPLES_PER_TYPE]
        if chosen:
            (folder / kind).mkdir(parents=True, exist_ok=True)
        for n in chosen:
            if n not in drawn:
                try:
                    buffer = io.BytesIO()
                    box = focus_box(d, result, n)  # a close-up beside the image when its smallest error is tiny
                    focus = None if box is None else box.tolist()
                    draw_comparison(root / d.images[n], d, result, n, focus=focus).save(buffer, "JPEG", quality=88)
                    drawn[n] = buffer.getvalue()
                except OSError:
                    drawn[n] = None
            if (picture := drawn[n]) is not None:
                (folder / kind / f"{Path(d.images[n]).with_suffix('').as_posix().replace('/', '__')}.jpg").write_bytes(
                    picture
                )
