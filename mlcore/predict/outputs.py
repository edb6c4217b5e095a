"""The files of a batch prediction, written as the images are predicted:

labels/{image}.txt      YOLO lines with confidences: class cx cy w h confidence (normalised)
predictions_coco.json   one COCO document (images, categories, annotations with scores)
detections.csv          one row per detection: image, class_id, class_name, confidence, x1, y1, x2, y2
annotated/ or annotated.mp4   the images (or the video) with the boxes drawn, when asked for
summary.json            images, detections per class, empty and unreadable images: written last

writer = PredictionWriter(folder, names, save_images=True)
writer.add("a.jpg", image, detections)
summary = writer.close(extra={"seconds": 12.5})
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.charts.drawing import draw_detections
from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.evaluation.predictions import label_name
from mlcore.predict.images import DecodedImage

CSV_COLUMNS = ("image", "class_id", "class_name", "confidence", "x1", "y1", "x2", "y2")


class PredictionWriter:
    def __init__(self, folder: Path, names: dict[int, str], save_images: bool, video_fps: float | None = None) -> None:
        self.folder, self.names, self.save_images, self.video_fps = folder, names, save_images, video_fps
        (folder / paths.PREDICTED_LABELS_DIR).mkdir(parents=True, exist_ok=True)
        self._csv_file = open(folder / paths.DETECTIONS_CSV, "w", newline="")  # noqa: SIM115 (closed by close())
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(CSV_COLUMNS)
        self._coco: dict[str, Any] = {
            "images": [],
            "annotations": [],
            "categories": [{"id": k, "name": v} for k, v in sorted(names.items())],
        }
        self.per_class: Counter[str] = Counter()
        self.empty: list[str] = []
        self.unreadable: list[dict[str, str]] = []
        self._video: Any = None

    def add(self, name: str, image: DecodedImage, detections: list[dict[str, Any]]) -> None:
        w, h = image.width, image.height
        image_id = len(self._coco["images"])
        self._coco["images"].append({"id": image_id, "file_name": name, "width": w, "height": h})
        lines = []
        for d in detections:
            x1, y1, x2, y2 = d["box"]
            lines.append(
                f"{d['class_id']} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} "
                f"{(y2 - y1) / h:.6f} {d['confidence']:.5f}\n"
            )
            self._coco["annotations"].append(
                {
                    "id": len(self._coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": d["class_id"],
                    "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                    "area": round((x2 - x1) * (y2 - y1), 2),
                    "score": d["confidence"],
                    "iscrowd": 0,
                }
            )
            self._csv.writerow((name, d["class_id"], d["class_name"], d["confidence"], x1, y1, x2, y2))
            self.per_class[d["class_name"]] += 1
        (self.folder / paths.PREDICTED_LABELS_DIR / label_name(name)).write_text("".join(lines))
        if not detections:
            self.empty.append(name)
        if self.save_images:
            self._annotate(name, image, detections)

    def skip(self, name: str, error: str) -> None:
        self.unreadable.append({"image": name, "error": error})

    def _annotate(self, name: str, image: DecodedImage, detections: list[dict[str, Any]]) -> None:
        if self.video_fps is None:
            target = self.folder / paths.ANNOTATED_DIR / f"{Path(name).with_suffix('').as_posix()}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            draw_detections(image.rgb(), detections).save(target, "JPEG", quality=90)
            return
        import cv2

        frame = np.asarray(draw_detections(image.rgb(), detections, max_side=max(image.width, image.height)))
        if self._video is None:
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            size = (frame.shape[1], frame.shape[0])
            self._video = cv2.VideoWriter(str(self.folder / paths.ANNOTATED_VIDEO), fourcc, self.video_fps, size)
        self._video.write(np.ascontiguousarray(frame[:, :, ::-1]))

    def close(self, extra: dict[str, Any]) -> dict[str, Any]:
        """Finish every file and write summary.json; the summary."""
        self._csv_file.close()
        if self._video is not None:
            self._video.release()
        (self.folder / paths.COCO_PREDICTIONS).write_text(json.dumps(self._coco))
        images = len(self._coco["images"])
        summary = {
            "images": images,
            "detections": sum(self.per_class.values()),
            "per_class": {name: self.per_class.get(name, 0) for _, name in sorted(self.names.items())},
            "empty_images": len(self.empty),
            "empty": self.empty[:1000],
            "unreadable": self.unreadable,
            **extra,
        }
        write_json_atomically(self.folder / paths.SUMMARY_FILE, summary)
        return summary
