"""Published figures of the YOLOv8 detection models, to choose one (Ultralytics' model table:
COCO val2017 at 640 px, CPU speed with ONNX, A100 speed with TensorRT)."""

from __future__ import annotations

from typing import NamedTuple


class Architecture(NamedTuple):
    name: str
    params_m: float
    flops_b: float
    coco_map50_95: float
    cpu_onnx_ms: float
    a100_trt_ms: float


ARCHITECTURE_FACTS = (
    Architecture("yolov8n", 3.2, 8.7, 37.3, 80.4, 0.99),
    Architecture("yolov8s", 11.2, 28.6, 44.9, 128.4, 1.20),
    Architecture("yolov8m", 25.9, 78.9, 50.2, 234.7, 1.83),
    Architecture("yolov8l", 43.7, 165.2, 52.9, 375.2, 2.39),
    Architecture("yolov8x", 68.2, 257.8, 53.9, 479.1, 3.53),
)


def architecture_table() -> list[dict[str, object]]:
    """One row per model, with its CPU inference time relative to yolov8n."""
    base = ARCHITECTURE_FACTS[0].cpu_onnx_ms
    return [
        {
            "model": a.name,
            "parameters (M)": a.params_m,
            "FLOPs (B)": a.flops_b,
            "COCO mAP50-95": a.coco_map50_95,
            "CPU ms (ONNX)": a.cpu_onnx_ms,
            "A100 ms (TensorRT)": a.a100_trt_ms,
            "relative time": f"{a.cpu_onnx_ms / base:.1f}×",
        }
        for a in ARCHITECTURE_FACTS
    ]
