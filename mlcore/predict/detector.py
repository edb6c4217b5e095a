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

import os
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.core.errors import TaskError
from mlcore.engine.env import restore_pillow_open
from mlcore.export.openvino_runtime import install
from mlcore.predict.profile import DeploymentProfile


class ModelUnusable(TaskError):
    """The file cannot be loaded as a detection model; the message says what to pick instead."""


def load_detector(path: Path, device: str) -> Any:
    """A YOLO detection model from a .pt or an export, on `device` ('cpu' or a GPU index)."""
    from ultralytics import YOLO

    restore_pillow_open()
    install()  # OpenVINO exports compile at their card's inference precision
    try:
        model = YOLO(str(path), task="detect")
    except Exception as exc:  # Ultralytics raises several kinds for files that are not models
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ModelUnusable(
            f"{path.name} cannot be loaded as a YOLO model ({reason[:200]}); pick a run's best.pt or an export."
        ) from exc
    if model.task != "detect":
        raise ModelUnusable(f"{path.name} is a {model.task} model; the studio predicts with detection models.")
    model.studio_device, model.studio_path = device, path
    return model


WARM_UP = np.zeros((64, 64, 3), dtype=np.uint8)


PYTORCH_SUFFIXES = (".pt", ".torchscript")  # models PyTorch runs; ONNX Runtime and OpenVINO have threads of their own


def warm_up(model: Any) -> None:
    """One prediction builds Ultralytics' predictor; then, on the CPU, a PyTorch model may use every core
    (Ultralytics' device set-up leaves one idle, which on a two-core machine halves its speed). Other runtimes
    keep Ultralytics' setting: their own threads would compete with PyTorch's."""
    detect(model, [WARM_UP], DeploymentProfile())
    if model.studio_device == "cpu" and model.studio_path.suffix in PYTORCH_SUFFIXES:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)


def names_of(model: Any) -> dict[int, str]:
    return {int(k): str(v) for k, v in model.names.items()}


def detect(
    model: Any, images: list[np.ndarray], profile: DeploymentProfile, imgsz: int | None = None
) -> list[list[dict]]:
    """The detections in each image (BGR arrays) at the profile's thresholds; ProfileError on foreign classes."""
    names = names_of(model)
    thresholds = profile.class_thresholds(names)
    extra = {"imgsz": imgsz} if imgsz else {}
    results = model.predict(
        images, conf=profile.floor, iou=profile.iou, device=model.studio_device, verbose=False, **extra
    )
    return [_boxes(r, names, thresholds) for r in results]


def _boxes(result: Any, names: dict[int, str], thresholds: dict[int, float]) -> list[dict]:
    boxes = result.boxes
    xyxy = boxes.xyxy.cpu().numpy().astype(float)
    conf = boxes.conf.cpu().numpy().astype(float)
    cls = boxes.cls.cpu().numpy().astype(int)
    return [
        {"class_id": int(c), "class_name": names.get(int(c), str(c)), "confidence": round(float(p), 5),
         "box": [round(float(v), 2) for v in b]}
        for b, p, c in zip(xyxy, conf, cls, strict=True)
        if p >= thresholds.get(int(c), 1.0)
    ]  # fmt: skip
