"""How fast a model predicts in its runtime: milliseconds per image at batch 1 (median and p90 of timed
runs after a warm-up), and images per second at batch 8 for a dynamic export. Runs in the worker.

Each model is timed through Ultralytics' own predictor, which runs a .pt in PyTorch, an .onnx in
onnxruntime, an OpenVINO folder in OpenVINO and a .torchscript in TorchScript; the figure is the
predictor's `inference` time (the runtime alone), so pre- and post-processing, the same for all,
do not blur the comparison. Its total per image is kept beside it. Each runtime gets the CPU threads the
studio's predictor gives it (engine.env.set_cpu_threads), so the figure says how the predictor will run that
format. Each figure says the precision the runtime computed at (`ran_at`): an OpenVINO model compiles at its
export's hint and reports what it got.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from mlcore.engine.env import set_cpu_threads, torch_threads
from mlcore.engine.heads import ultralytics_head
from mlcore.engine.models import load_yolo
from mlcore.export.openvino_runtime import compiled_precision, install

WARM_UP = 5
BATCH = 8


def _stats(values: list[float]) -> dict[str, float]:
    return {"median_ms": round(float(np.median(values)), 3), "p90_ms": round(float(np.percentile(values, 90)), 3)}


def ran_at(backend: Any) -> str | None:
    """The precision a loaded model (Ultralytics' AutoBackend) computes at: OpenVINO's own reading; the input
    type for PyTorch and ONNX Runtime, which compute at the model's type on the CPU; None for a TensorRT
    engine (its layers' precisions were fixed when it was built)."""
    if backend.format == "openvino":
        return compiled_precision(backend.ov_compiled_model)
    if backend.format == "engine":
        return None
    return "f16" if backend.fp16 else "f32"


def time_model(
    path: str,
    images: list[str],
    imgsz: int,
    runs: int,
    device: str = "cpu",
    dynamic: bool = False,
    nms_free: bool = False,
) -> dict:
    """Latency of the model at `path` on `images` (cycled), on `device`; a .pt with the head `nms_free` picks."""
    install()
    model = load_yolo(path)
    kwargs = {"imgsz": imgsz, "device": device, "verbose": False, "batch": 1, **ultralytics_head(nms_free)}
    for n in range(WARM_UP):
        model.predict(images[n % len(images)], **kwargs)
        if n == 0:  # once the predictor's set-up has set torch's threads, as the studio's predictor does
            set_cpu_threads(device, path)
    inference, total = [], []
    for n in range(runs):
        speed = model.predict(images[n % len(images)], **kwargs)[0].speed
        inference.append(float(speed["inference"]))
        total.append(float(sum(v for v in speed.values() if v is not None)))
    result: dict[str, Any] = {
        **_stats(inference),
        "total_median_ms": round(float(np.median(total)), 3),
        "runs": runs,
        "batch": 1,
        "device": device,
        "threads": torch_threads() if device == "cpu" else None,
        "cores": os.cpu_count(),
        "ran_at": ran_at(model.predictor.model),
    }
    if dynamic:
        batch = [images[n % len(images)] for n in range(BATCH)]
        model.predict(batch, **{**kwargs, "batch": BATCH})
        per_image = [
            float(model.predict(batch, **{**kwargs, "batch": BATCH})[0].speed["inference"]) for _ in range(WARM_UP)
        ]
        result["batch8_images_per_s"] = round(1000.0 / max(1e-6, float(np.median(per_image))), 1)
    return result
