"""The audit job, run by the worker: out-of-sample predictions on a split, then the label-error analysis.

Each fold of the spec (one for val and test: the model and the whole split; K for a K-fold audit of train:
each fold's model and its held-out images) is predicted with Ultralytics' validator, as an evaluation does,
and the folds' detections are read together. A K-fold audit first measures the audited model on the images the
fold models were validated on and ends there, with the figures, when a fold model is too weak (kfold.fold_check).
The job writes, in its folder:

    audit.json      images worst first, typed suspects worst first, counts, timings
    suspects.csv    one row per suspect box
    fix_list.csv    each suspect's label line as it is and as the model suggests
    gallery/        the worst suspects drawn: the label's box and the model's suggestion
    predictions.npz every prediction and label box (the page and the next audit read it)
"""

from __future__ import annotations

import csv
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.charts.drawing import draw_suspect
from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.settings import Settings
from mlcore.datasets.fixes import FIX_COLUMNS
from mlcore.datasets.labels import parse_label
from mlcore.datasets.loader import label_path, load_dataset
from mlcore.datasets.staging import stage_dataset
from mlcore.devices.leases import ultralytics_device
from mlcore.evaluation.analysis import Detections
from mlcore.evaluation.task import predict_split
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.progress import write_progress
from mlcore.jobs.store import Job, JobStore, ProgressState
from mlcore.quality.audit import ISSUE_TYPES, LIKELY, AuditResult, Suspect, audit
from mlcore.quality.detections import merge_detections
from mlcore.quality.kfold import fold_check

GALLERY_SIZE = 60  # suspects drawn, worst first; the CSV and audit.json list them all


def run(job: Job, settings: Settings, store: JobStore) -> int:
    return run_to_end(store, job, lambda: run_audit(job, settings))


def label_lines(dataset: Any, images: list[str]) -> np.ndarray:
    """The label-file line of every ground-truth box, in the order the detections hold them."""
    lines: list[int] = []
    for image in images:
        try:
            rows, _ = parse_label(Path(label_path(image)).read_bytes())
        except OSError:
            rows = []
        lines.extend(r.line for r in rows)
    return np.array(lines, dtype=int)


def source_figures(job: Job, settings: Settings) -> tuple[list[dict[str, Any]], bool]:
    """The audited model's validation on each fold's validation images, measured as the fold trainings measured
    theirs (once for a set the folds share); (per fold {"map50", "map50_95", "images"}, whether they share one)."""
    folder, spec = Path(job.run_dir), job.spec
    measured: dict[tuple[str, ...], dict[str, Any]] = {}
    figures = []
    for k, data_yaml in enumerate(spec["fold_datasets"]):
        data = load_dataset(Path(data_yaml))
        images = list(data.splits.get("val") or [])
        key = tuple(images)
        if key not in measured:
            write_progress(folder, 0, "measuring the audited model on the fold models' validation images")
            staged = stage_dataset(data, settings.outputs_root / paths.STAGING_DIR / f"{job.id}-source-{k}")
            _, numbers = predict_split(
                spec["model_path"],
                data,
                images,
                staged,
                "val",
                spec["imgsz"],
                ultralytics_device(job.device),
                folder / "ultralytics" / f"source-{k}",
                nms_free=bool(spec.get("nms_free")),
            )
            measured[key] = {"map50": numbers["map50"], "map50_95": numbers["map50_95"], "images": len(images)}
        figures.append(measured[key])
    return figures, len(measured) == 1


def run_audit(job: Job, settings: Settings) -> None:
    folder, spec = Path(job.run_dir), job.spec
    checked = fold_check(spec, folder, *source_figures(job, settings)) if spec.get("folds") else None
    dataset = load_dataset(Path(spec["dataset_path"]))
    split = spec["split"]
    folds = spec.get("folds") or [{"model": spec["model_path"], "images": None}]
    skipped = set(spec.get("skipped") or [])
    usable = [
        i for i in dataset.splits[split] if dataset.rel(i) not in skipped and dataset.rel(label_path(i)) not in skipped
    ]
    by_rel = {dataset.rel(i): i for i in usable}
    total = len(usable)
    parts: list[Detections] = []
    ordered: list[str] = []
    started = time.perf_counter()
    for k, fold in enumerate(folds):
        images = usable if fold["images"] is None else [by_rel[r] for r in fold["images"] if r in by_rel]
        if not images:
            continue
        view = replace(dataset, splits={**dataset.splits, split: images})
        data_yaml = stage_dataset(view, settings.outputs_root / paths.STAGING_DIR / f"{job.id}-{k}")
        done_before = len(ordered)

        stage = f"predicting (fold {k + 1} of {len(folds)})" if len(folds) > 1 else "predicting"

        def progress(
            done: int, batches: int, before: int = done_before, size: int = len(images), stage: str = stage
        ) -> None:
            seen = before + size * done / max(1, batches)
            write_progress(folder, 90 * seen / max(1, total), stage)

        detections, _ = predict_split(
            fold["model"],
            view,
            images,
            data_yaml,
            split,
            spec["imgsz"],
            ultralytics_device(job.device),
            folder / "ultralytics" / f"fold-{k}",
            progress=progress,
            nms_free=bool(spec.get("nms_free")),
        )
        parts.append(detections)
        ordered.extend(images)
    predicted = time.perf_counter()
    detections = merge_detections(parts, dataset.names, spec["imgsz"])
    detections.save(folder / paths.PREDICTIONS_FILE)
    write_progress(folder, 92, "analysing the labels")
    import cleanlab.object_detection.rank  # noqa: F401  (imported before the clock: the analysis is timed alone)

    analysis_started = time.perf_counter()
    result = audit(detections, label_lines(dataset, ordered))
    analysed = time.perf_counter()
    timings = {"prediction": round(predicted - started, 3), "analysis": round(analysed - analysis_started, 3)}
    meta = {
        "split": split,
        "model_path": spec["model_path"],
        "dataset_path": spec["dataset_path"],
        "kfold": len(folds) if spec.get("folds") else 0,
        "nms_free": bool(spec.get("nms_free")),
        "in_sample": split == "train" and not spec.get("folds"),
        "skipped": sorted(skipped),
        "timings_s": timings,
    }
    if checked:
        meta["fold_check"] = checked
    write_audit(folder, detections, result, Path(str(dataset.root)), meta)
    write_progress(folder, 100, state=ProgressState.COMPLETED)


def write_audit(folder: Path, d: Detections, result: AuditResult, root: Path, meta: dict[str, Any]) -> dict:
    """The audit's files from its analysis: the tables, the gallery, then audit.json (last: its presence means the
    audit is complete); the document written."""
    issues = [issue_row(d, s, root) for s in result.suspects]
    write_tables(folder, issues)
    drawn = draw_gallery(folder / paths.GALLERY_DIR, root, d, issues[:GALLERY_SIZE])
    for issue in issues[:GALLERY_SIZE]:
        issue["picture"] = drawn.get(id(issue))
    suspects_per_image = np.bincount([s.image for s in result.suspects], minlength=len(d.images))
    order = np.argsort(result.image_scores, kind="stable")
    document = {
        **meta,
        "dataset_root": str(root),
        "confident": round(result.confident, 4),
        "strength": result.strength.to_dict(),
        "warning": result.strength.warning(),
        "blind_spot": None if result.blind_spot is None else result.blind_spot.to_dict(),
        "names": {str(k): v for k, v in sorted(d.names.items())},
        "counts": {
            "images": len(d.images),
            "labels": len(d.gt_cls),
            "suspects": len(issues),
            "likely": sum(1 for i in issues if i["probability"] >= LIKELY),
            **{t: sum(1 for i in issues if i["type"] == t) for t in ISSUE_TYPES},
        },
        "images": [
            {
                "path": d.images[n],
                "score": round(float(result.image_scores[n]), 5),
                "suspects": int(suspects_per_image[n]),
            }
            for n in order
        ],
        "issues": issues,
    }
    write_json_atomically(folder / paths.AUDIT_FILE, document)
    return document


def _yolo_line(cls: int, box: tuple[float, float, float, float] | list[float], size: tuple[int, int]) -> str:
    w, h = (float(v) or 1.0 for v in size)
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, x2 = max(0.0, min(x1, w)), max(0.0, min(x2, w))
    y1, y2 = max(0.0, min(y1, h)), max(0.0, min(y2, h))
    return f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"


def issue_row(d: Detections, s: Suspect, root: Path) -> dict[str, Any]:
    """A suspect as the JSON and the CSVs give it: where, what, and its label line as it is and as suggested."""
    image = d.images[s.image]
    label = Path(label_path(root / image)).relative_to(root).as_posix()
    size = (int(d.sizes[s.image][0]), int(d.sizes[s.image][1]))
    as_is = ""
    if s.line is not None:
        try:
            as_is = (root / label).read_text(encoding="utf-8-sig").splitlines()[s.line - 1].strip()
        except (OSError, IndexError, UnicodeDecodeError):
            as_is = ""
    if s.type == "swapped":
        suggested = " ".join([str(s.suggested_class), *as_is.split()[1:]]) if as_is else ""
    elif s.suggested_box is not None:
        suggested = _yolo_line(int(s.suggested_class or 0), s.suggested_box, size)
    else:
        suggested = ""  # a label box the model sees nothing of: remove it, or keep it if the model is wrong
    return {
        "path": image,
        "label_file": label,
        "line": s.line,
        "type": s.type,
        "score": s.score,
        "probability": round(1 - s.score, 5),
        "box": list(s.box),
        "label_class": s.label_class,
        "suggested_class": s.suggested_class,
        "suggested_box": None if s.suggested_box is None else list(s.suggested_box),
        "confidence": s.confidence,
        "as_is": as_is,
        "suggested": suggested,
    }


SUSPECT_COLUMNS = ("path", "label_file", "line", "type", "score", "label_class", "suggested_class", "confidence", "box")


def write_tables(folder: Path, issues: list[dict[str, Any]]) -> None:
    with open(folder / paths.SUSPECTS_CSV, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(SUSPECT_COLUMNS)
        for i in issues:
            writer.writerow([" ".join(f"{v:.1f}" for v in i[c]) if c == "box" else i[c] for c in SUSPECT_COLUMNS])
    with open(folder / paths.FIX_LIST_CSV, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIX_COLUMNS)
        for i in issues:
            writer.writerow([i[c] for c in FIX_COLUMNS])


def draw_gallery(folder: Path, root: Path, d: Detections, issues: list[dict[str, Any]]) -> dict[int, str]:
    """Each suspect drawn on its image (the label's box, the model's suggestion, the image's other labels, a
    close-up when the box is small); {id(issue): file name}."""
    folder.mkdir(parents=True, exist_ok=True)
    names, index = d.names, {image: n for n, image in enumerate(d.images)}
    drawn: dict[int, str] = {}
    for rank, issue in enumerate(issues, start=1):
        name = f"{rank:03d}_{issue['type']}_{Path(issue['path']).stem[:60]}.jpg"
        mine = np.flatnonzero(d.gt_image == index[issue["path"]])  # the image's labels: what is already there
        labels = [(int(d.gt_cls[k]), d.gt_box[k]) for k in mine]
        try:
            draw_suspect(root / issue["path"], issue, names, labels).save(folder / name, "JPEG", quality=88)
        except OSError:
            continue
        drawn[id(issue)] = name
    return drawn
