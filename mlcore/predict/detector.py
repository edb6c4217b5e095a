"""Running a model over decoded images, for the predictor process and batch prediction jobs
(it imports Ultralytics: never import it in the app or the API process).

    model = load_detector(path, device="cpu")
    boxes = detect(model, [pixels], profile)    # one list of detections per image

A detection is {"class_id", "class_name", "confidence", "box": [x1, y1, x2, y2]} in original-image
pixels. Per-class thresholds are applied after NMS: the model runs at the profile's lowest threshold.
An OpenVINO export computes at the precision its model card records (OpenVINO's own default on a CPU with
bfloat16 would be bf16, whatever the export was checked at).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlcore.core.class_names import class_names
from mlcore.core.errors import TaskError
from mlcore.engine.env import set_cpu_threads
from mlcore.engine.heads import check_head, ultralytics_head
from mlcore.engine.models import UnusableModel, load_yolo
from mlcore.export.openvino_runtime import install
from mlcore.predict.profile import DeploymentProfile


class ModelUnusable(TaskError):
    """The file cannot be loaded as a detection model; the message says what to pick instead."""


def load_detector(path: Path, device: str) -> Any:
    """A YOLO detection model from a .pt or an export, on `device` ('cpu' or a GPU index)."""
    install()  # OpenVINO exports compile at their card's inference precision
    try:
        model = load_yolo(path)
    except UnusableModel as exc:
        if exc.task:
            message = f"{path.name} is a {exc.task} model; the studio predicts with detection models."
        else:
            message = (
                f"{path.name} cannot be loaded as a YOLO model ({exc.reason[:200]}); pick a run's best.pt or an export."
            )
        raise ModelUnusable(message) from exc.__cause__  # Ultralytics' own error, if any
    model.studio_device, model.studio_path = device, path
    return model


WARM_UP = np.zeros((64, 64, 3), dtype=np.uint8)


def warm_up(model: Any) -> None:
    """One prediction builds Ultralytics' predictor (which sets torch's threads); then the studio's CPU-thread
    policy, the one the export card's latency was timed under."""
    detect(model, [WARM_UP], DeploymentProfile())
    set_cpu_threads(model.studio_device, model.studio_path)


def names_of(model: Any) -> dict[int, str]:
    return class_names(model.names)


def detect(
    model: Any, images: list[np.ndarray], profile: DeploymentProfile, imgsz: int | None = None
) -> list[list[dict]]:
    """The detections in each image (BGR arrays) at the profile's thresholds; ProfileError on foreign classes."""
    names = names_of(model)
    thresholds = profile.class_thresholds(names)
    extra = {"imgsz": imgsz} if imgsz else {}
    set_cpu_threads(model.studio_device, model.studio_path)  # per call: the predictor may hold several models
    check_head(model, profile.nms_free, model.studio_path)
    results = model.predict(
        images,
        conf=profile.floor,
        iou=profile.iou,
        device=model.studio_device,
        verbose=False,
        **ultralytics_head(profile.nms_free),
        **extra,
    )
    return [_boxes(r, names, thresholds) for r in results]


def _boxes(result: Any, names: dict[int, str], thresholds: dict[int, float]) -> list[dict]:
    boxes = result.boxes
    xyxy = boxes.xyxy.cpu().numpy().astype(float)
    conf = boxes.conf.cpu().numpy().astype(float)
    cls = boxes.cls.cpu().numpy().astype(int)
    return [
        {
            "class_id": int(c),
            "class_name": names.get(int(c), str(c)),
            "confidence": round(float(p), 5),
            "box": [round(float(v), 2) for v in b],
        }
        for b, p, c in zip(xyxy, conf, cls, strict=True)
        if p >= thresholds.get(int(c), 1.0)
    ]
