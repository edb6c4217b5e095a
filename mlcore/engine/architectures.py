"""The detection architectures the studio trains, one home for their names, families and published figures.

Figures are Ultralytics' own model tables (COCO val2017 at 640 px; CPU latency with ONNX; GPU latency with
TensorRT: on an A100 for YOLOv8, on a T4 for YOLO11 and YOLO26). YOLO26's mAP is its one-to-many head with NMS;
its NMS-free (end-to-end) head scores `coco_map50_95_e2e`. The P2 variants have no published COCO figures: their
parameters and FLOPs are the model definition's own summary (unfused, both heads counted).

    ARCHITECTURES                        # ("yolov8n", ..., "yolo26s-p2"): what a spec's model_architecture takes
    family_of("yolo26n-p2")              # Family YOLO26
    architecture_of("yolo11n.yaml")      # "yolo11n" (a checkpoint's model definition file), None if unknown
    model_architecture(torch_model)      # the same, from a loaded model's definition (its `yaml`)
    is_end2end("yolo26s")                # True: it has an NMS-free head beside its NMS one
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple


class Family(StrEnum):
    YOLOV8 = "YOLOv8"
    YOLO11 = "YOLO11"
    YOLO26 = "YOLO26"


END2END_FAMILIES = frozenset({Family.YOLO26})  # families with both an NMS-free (one-to-one) and an NMS head


class Architecture(NamedTuple):
    name: str
    family: Family
    params_m: float
    flops_b: float
    coco_map50_95: float | None
    cpu_onnx_ms: float | None
    gpu_trt_ms: float | None
    gpu: str
    coco_map50_95_e2e: float | None = None
    note: str = ""


SMALL_OBJECTS = "four detection scales from P2 (stride 4): for small objects, slower"

ARCHITECTURE_FACTS = (
    Architecture("yolov8n", Family.YOLOV8, 3.2, 8.7, 37.3, 80.4, 0.99, "A100"),
    Architecture("yolov8s", Family.YOLOV8, 11.2, 28.6, 44.9, 128.4, 1.20, "A100"),
    Architecture("yolov8m", Family.YOLOV8, 25.9, 78.9, 50.2, 234.7, 1.83, "A100"),
    Architecture("yolov8l", Family.YOLOV8, 43.7, 165.2, 52.9, 375.2, 2.39, "A100"),
    Architecture("yolov8x", Family.YOLOV8, 68.2, 257.8, 53.9, 479.1, 3.53, "A100"),
    Architecture("yolo11n", Family.YOLO11, 2.6, 6.5, 39.5, 56.1, 1.5, "T4"),
    Architecture("yolo11s", Family.YOLO11, 9.4, 21.5, 47.0, 90.0, 2.5, "T4"),
    Architecture("yolo11m", Family.YOLO11, 20.1, 68.0, 51.5, 183.2, 4.7, "T4"),
    Architecture("yolo11l", Family.YOLO11, 25.3, 86.9, 53.4, 238.6, 6.2, "T4"),
    Architecture("yolo11x", Family.YOLO11, 56.9, 194.9, 54.7, 462.8, 11.3, "T4"),
    Architecture("yolo26n", Family.YOLO26, 2.4, 5.4, 40.9, 38.9, 1.7, "T4", 40.1),
    Architecture("yolo26s", Family.YOLO26, 9.5, 20.7, 48.6, 87.2, 2.5, "T4", 47.8),
    Architecture("yolo26m", Family.YOLO26, 20.4, 68.2, 53.1, 220.0, 4.7, "T4", 52.5),
    Architecture("yolo26l", Family.YOLO26, 24.8, 86.4, 55.0, 286.2, 6.2, "T4", 54.4),
    Architecture("yolo26x", Family.YOLO26, 55.7, 193.9, 57.5, 525.8, 11.8, "T4", 56.9),
    Architecture("yolo26n-p2", Family.YOLO26, 2.7, 9.5, None, None, None, "", None, SMALL_OBJECTS),
    Architecture("yolo26s-p2", Family.YOLO26, 9.8, 27.8, None, None, None, "", None, SMALL_OBJECTS),
)
FACTS = {a.name: a for a in ARCHITECTURE_FACTS}
ARCHITECTURES: tuple[str, ...] = tuple(FACTS)
DEFAULT_ARCHITECTURE = "yolov8n"

PICK_HINT = (
    "Which one? Start with yolo26n: the best COCO accuracy of the small models and the fastest on a CPU. "
    "Go to s or m when the GPU has room and accuracy matters more than speed; take yolo26n-p2 or yolo26s-p2 for "
    "objects a few pixels wide; yolov8 and yolo11 stay for comparison with models trained before."
)

# A model definition's file name (yolo26n-p2.yaml, yolov8s.yaml, yolo11m.yaml) as Ultralytics records it
_DEFINITION = re.compile(r"^(yolov8|yolo11|yolo26)([nsmlx])?(-p2)?\.ya?ml$")


def family_of(name: str) -> Family | None:
    facts = FACTS.get(name)
    return facts.family if facts else None


def family_label(name: object) -> str:
    """The family's name for a table, or "?" for an architecture the studio does not know."""
    family = family_of(str(name or ""))
    return family.value if family else "?"


def is_end2end(name: str | None) -> bool:
    """Has the architecture an NMS-free head (YOLO26)?"""
    return family_of(name or "") in END2END_FAMILIES


def architecture_of(definition: str, scale: str | None = None) -> str | None:
    """The architecture a checkpoint's model definition file names (its `yaml_file`, and the `scale` Ultralytics
    recorded when the file name has none); None when it is not one the studio knows."""
    match = _DEFINITION.match(definition.rsplit("/", 1)[-1].lower())
    if not match:
        return None
    stem, size, p2 = match.groups()
    name = f"{stem}{size or scale or ''}{p2 or ''}"
    return name if name in FACTS else None


def model_architecture(model: object) -> str | None:
    """The architecture a loaded Ultralytics model names in its definition (the `yaml` dict a checkpoint keeps,
    with its `yaml_file` and `scale`); None when it names none the studio knows."""
    definition = getattr(model, "yaml", None)
    if not isinstance(definition, dict) or not definition.get("yaml_file"):
        return None
    return architecture_of(str(definition["yaml_file"]), definition.get("scale"))


def _figure(value: float | None) -> float | str:
    return "–" if value is None else value


def architecture_table() -> list[dict[str, object]]:
    """One row per model, grouped by family, with its CPU time relative to yolov8n where it was published."""
    base = FACTS[DEFAULT_ARCHITECTURE].cpu_onnx_ms or 1.0
    return [
        {
            "family": a.family.value,
            "model": a.name,
            "parameters (M)": a.params_m,
            "FLOPs (B)": a.flops_b,
            "COCO mAP50-95": _figure(a.coco_map50_95),
            "COCO mAP50-95 NMS-free": _figure(a.coco_map50_95_e2e),
            "CPU ms (ONNX)": _figure(a.cpu_onnx_ms),
            "GPU ms (TensorRT)": "–" if a.gpu_trt_ms is None else f"{a.gpu_trt_ms} ({a.gpu})",
            "relative CPU time": "–" if a.cpu_onnx_ms is None else f"{a.cpu_onnx_ms / base:.2f}×",
            "note": a.note,
        }
        for a in ARCHITECTURE_FACTS
    ]
