"""The export formats: which the studio offers, what each needs, and why the others are not offered.

available(gpu=False)   # {"onnx": None, "openvino": None, "torchscript": None, "engine": "needs ..."}
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from mlcore.export.precision import BF16, INFERENCE_HINTS, bf16_missing


@dataclass(frozen=True)
class ExportFormat:
    """One format the studio can export to."""

    name: str
    """As users type it (and as Ultralytics' `format=` argument)."""
    title: str
    runtime: str
    """What runs the exported model (for the latency table)."""
    packages: tuple[str, ...]
    """Python modules the export needs, all installed by requirements.txt (none is downloaded)."""
    precisions: tuple[str, ...]
    needs_gpu: bool = False


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("onnx", "ONNX", "onnxruntime", ("onnx", "onnxslim", "onnxruntime"), ("fp32", "fp16")),
        ExportFormat("openvino", "OpenVINO", "OpenVINO", ("openvino",), ("fp32", "fp16", "int8", BF16)),
        ExportFormat("torchscript", "TorchScript", "PyTorch (TorchScript)", (), ("fp32",)),
        ExportFormat("engine", "TensorRT", "TensorRT", ("tensorrt",), ("fp32", "fp16", "int8"), needs_gpu=True),
    )
}
PRECISIONS = tuple(INFERENCE_HINTS)  # fp32, fp16, int8, bf16
INT8_PACKAGE = "nncf"  # OpenVINO's INT8 calibration

# Formats Ultralytics has that the studio does not offer, and why (an offline machine cannot make them).
NOT_OFFERED = {
    "tflite": "needs TensorFlow, and Ultralytics downloads a calibration file from GitHub for it: not possible offline",
    "saved_model": "needs TensorFlow and onnx2tf, and a download from GitHub during the export",
    "pb": "needs TensorFlow and onnx2tf, and a download from GitHub during the export",
    "tfjs": "needs TensorFlow.js converters and a download from GitHub during the export",
    "edgetpu": "needs Coral's Edge TPU compiler (an apt package from Google) and TensorFlow",
    "coreml": "its models run only on Apple devices",
    "ncnn": "not installed here (ncnn and pnnx); ask for it if you deploy on mobile",
    "paddle": "not installed here (PaddlePaddle and x2paddle are large)",
    "mnn": "not installed here",
    "imx": "needs Sony's IMX toolchain",
    "rknn": "needs Rockchip's RKNN toolkit",
}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def why_unavailable(name: str, precision: str = "fp32", gpu: bool = False) -> str | None:
    """None when `name` at `precision` can be exported on this machine, else why not (and what to do)."""
    fmt = FORMATS.get(name)
    if fmt is None:
        if name in NOT_OFFERED:
            return f"format={name!r} is not offered: it {NOT_OFFERED[name]}."
        return f"format={name!r} is unknown; use one of {', '.join(FORMATS)}."
    if precision not in fmt.precisions:
        return f"{fmt.title} is exported at {' or '.join(fmt.precisions)}, not {precision}."
    if fmt.needs_gpu and not gpu:
        return f"{fmt.title} is built for one NVIDIA GPU and needs one: this job has none (use onnx or openvino)."
    if precision == BF16 and (why := bf16_missing()):
        return f"{fmt.title} at bf16 is not offered on this machine: {why}"
    if name == "onnx" and precision == "fp16" and not gpu:
        return "ONNX at fp16 is exported on a GPU only; on the CPU choose openvino with fp16."
    missing = [m for m in fmt.packages if not _installed(m)]
    if precision == "int8" and name == "openvino" and not _installed(INT8_PACKAGE):
        missing.append(INT8_PACKAGE)
    if missing:
        return f"{fmt.title} needs the Python package(s) {', '.join(missing)}, which are not installed here."
    return None


def why_no_nms_free_head(name: str) -> str | None:
    """None when a format keeps YOLO26's NMS-free head, else why not. Ultralytics 8.4.190 silently exports the
    NMS head instead for rknn, ncnn, executorch, paddle, imx, edgetpu, qnn (none offered here), LiteRT at INT8 and
    TensorRT before 8.5; the export job also reads the head back from the file it made."""
    if name == "engine" and _installed("tensorrt"):
        import tensorrt  # a GPU machine's package; small to import

        major, minor = (int(p) for p in (tensorrt.__version__.split(".") + ["0"])[:2])
        if (major, minor) < (8, 5):
            return (
                f"TensorRT {tensorrt.__version__} cannot hold the NMS-free head (it needs 8.5 or later): Ultralytics "
                "would export the NMS head instead. Turn NMS-free off, or use onnx or openvino."
            )
    if name in NOT_OFFERED:
        return f"{name} cannot hold the NMS-free head."
    return None


def available(gpu: bool = False) -> dict[str, str | None]:
    """Every offered format with None (can be exported here) or the reason it cannot."""
    return {name: why_unavailable(name, "fp32", gpu) for name in FORMATS}
