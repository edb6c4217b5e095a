"""An evaluation folder written the way the evaluation job writes it, with predictions made up from the labels.

Every ground-truth box of the dataset's split gets a prediction whose fate is chosen by a seeded draw:
found (high confidence), wrong class, box shifted off, a duplicate, or none at all; a few boxes are
added where nothing is. So every error type occurs, at confidences spread from 0.05 to 0.95.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.paths import EVAL_CONFIG, PREDICTIONS_FILE
from mlcore.datasets.images import inspect_image
from mlcore.datasets.labels import parse_label
from mlcore.datasets.loader import label_path, load_dataset
from mlcore.evaluation.analysis import Detections, analyze
from mlcore.evaluation.task import evaluation_summary
from tests.run_fixture import metrics_json


def made_up_detections(dataset: Path, split: str = "val", seed: int = 3) -> Detections:
    data = load_dataset(dataset)
    images = data.splits[split]
    rng = np.random.default_rng(seed)
    nc = len(data.names)
    sizes, gt, pred = [], [], []
    for n, image in enumerate(images):
        w, h = inspect_image(image).display_size or (1, 1)
        sizes.append((w, h))
        rows, _ = parse_label(Path(label_path(image)).read_bytes())
        for r in rows:
            box = np.array([(r.cx - r.w / 2) * w, (r.cy - r.h / 2) * h, (r.cx + r.w / 2) * w, (r.cy + r.h / 2) * h])
            gt.append((n, r.cls, *box))
            fate = rng.choice(["found", "found", "found", "class", "shifted", "duplicate", "none"])
            conf = float(rng.uniform(0.55, 0.95))
            if fate == "none":
                continue
            cls = (r.cls + 1) % nc if fate == "class" else r.cls
            shift = (box[2] - box[0]) * 0.45 if fate == "shifted" else 0.0
            pred.append(
                (n, cls, conf if fate != "shifted" else conf / 2, box[0] + shift, box[1], box[2] + shift, box[3])
            )
            if fate == "duplicate":
                pred.append((n, cls, conf / 3, *(box + np.array([2.0, 2.0, -2.0, -2.0]))))
        if n % 3 == 0:  # a box where there is nothing
            x, y = rng.uniform(0, w * 0.7), rng.uniform(0, h * 0.7)
            pred.append((n, int(rng.integers(nc)), float(rng.uniform(0.05, 0.5)), x, y, x + w * 0.1, y + h * 0.1))
    g = np.array(gt, dtype=float).reshape(-1, 6)
    p = np.array(pred, dtype=float).reshape(-1, 7)
    return Detections(
        images=[data.rel(i) for i in images],
        sizes=np.array(sizes),
        names=dict(data.names),
        gt_image=g[:, 0].astype(int),
        gt_cls=g[:, 1].astype(int),
        gt_box=g[:, 2:],
        pred_image=p[:, 0].astype(int),
        pred_cls=p[:, 1].astype(int),
        pred_conf=p[:, 2],
        pred_box=p[:, 3:],
        imgsz=max(max(s) for s in sizes),
    )


def make_evaluation(outputs: Path, dataset: Path, name: str = "v1_best_20261101-120000-000000") -> Path:
    """validations/{name}/ with eval_config.yaml, predictions.npz and metrics.json."""
    folder = outputs / "validations" / name
    folder.mkdir(parents=True)
    spec = {
        "model_path": str(outputs / "trainings/logos/v1/weights/best.pt"),
        "dataset_path": str(dataset),
        "split": "val",
        "confidence_threshold": 0.25,
        "iou_threshold": 0.45,
        "imgsz": 96,
        "device": "cpu",
        "save_predictions": True,
        "analyze_errors": True,
        "skipped": [],
    }
    (folder / EVAL_CONFIG).write_text(yaml.safe_dump(spec, sort_keys=False))
    d = made_up_detections(dataset)
    d.save(folder / PREDICTIONS_FILE)
    names = tuple(d.names[k] for k in sorted(d.names))
    summary = evaluation_summary(d, analyze(d, 0.25, 0.45), metrics_json(names))
    summary |= {"skipped": [], "output_dir": str(folder), "dataset_root": str(dataset)}
    write_json_atomically(folder / "metrics.json", summary)
    return folder
