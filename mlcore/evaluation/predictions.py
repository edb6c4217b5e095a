"""Predictions at a confidence threshold, as files other tools read: YOLO txt per image and COCO JSON.

write_predictions(detections, result, folder)   # folder/labels/*.txt, folder/predictions_coco.json
predictions_zip(detections, result)             # the same, as the bytes of a zip (for a download)
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.core.paths import COCO_PREDICTIONS as COCO_FILE
from mlcore.evaluation.analysis import Analysis, Detections


def label_name(image: str) -> str:
    """images/test/a.jpg -> images__test__a.txt (one flat folder, no clashes between sub-folders)."""
    return f"{Path(image).with_suffix('').as_posix().replace('/', '__')}.txt"


def prediction_files(d: Detections, result: Analysis) -> tuple[dict[str, str], dict[str, Any]]:
    """YOLO lines per image (class cx cy w h confidence, normalised) and a COCO document, for the kept boxes."""
    coco: dict[str, Any] = {
        "images": [
            {"id": n, "file_name": name, "width": int(d.sizes[n][0]), "height": int(d.sizes[n][1])}
            for n, name in enumerate(d.images)
        ],
        "categories": [{"id": k, "name": v} for k, v in sorted(d.names.items())],
        "annotations": [],
    }
    lines: dict[int, list[str]] = {}
    for k in np.flatnonzero(result.pred_type != ""):
        n = int(d.pred_image[k])
        x1, y1, x2, y2 = (float(v) for v in d.pred_box[k])
        w, h = (float(v) or 1.0 for v in d.sizes[n])
        lines.setdefault(n, []).append(
            f"{int(d.pred_cls[k])} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} "
            f"{(y2 - y1) / h:.6f} {float(d.pred_conf[k]):.5f}"
        )
        coco["annotations"].append(
            {
                "id": len(coco["annotations"]) + 1,
                "image_id": n,
                "category_id": int(d.pred_cls[k]),
                "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                "score": round(float(d.pred_conf[k]), 5),
            }
        )
    texts = {label_name(name): "".join(f"{line}\n" for line in lines.get(n, [])) for n, name in enumerate(d.images)}
    return texts, coco


def write_predictions(d: Detections, result: Analysis, folder: Path) -> None:
    texts, coco = prediction_files(d, result)
    labels = folder / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (labels / name).write_text(text)
    (folder / COCO_FILE).write_text(json.dumps(coco))


def predictions_zip(d: Detections, result: Analysis) -> bytes:
    texts, coco = prediction_files(d, result)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in texts.items():
            archive.writestr(f"labels/{name}", text)
        archive.writestr(COCO_FILE, json.dumps(coco))
        archive.writestr("thresholds.json", json.dumps({"confidence": result.conf, "iou": result.iou}))
    return buffer.getvalue()
