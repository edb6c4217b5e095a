"""What an export is asked to do: ExportSpec, validated when it is built, JSON in and out.

spec = ExportSpec(model_path="trainings/logos/v1/weights/best.pt", formats=("onnx", "openvino"))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlcore.core.spec import (
    DEFAULT_IMGSZ,
    STRIDE,
    SpecError,
    device,
    flag,
    fraction,
    non_empty,
    refuse_unknown,
    whole,
)
from mlcore.evaluation.spec import SPLITS
from mlcore.export.formats import FORMATS, PRECISIONS

# mAP difference a parity check accepts; bfloat16 keeps 8 significant bits, and moves mAP50-95 by about 0.01-0.02
DEFAULT_TOLERANCE = {"fp32": 0.005, "fp16": 0.005, "int8": 0.02, "bf16": 0.02}
AUTO_SPLIT = "auto"  # test when the dataset has one, else val
MIN_TIMED_RUNS = 50


@dataclass(frozen=True)
class ExportSpec:
    """A model exported to one or more formats, checked and timed. Validated on construction."""

    model_path: str = ""
    """A run's best.pt/last.pt, or a .pt in a trusted model folder."""
    formats: tuple[str, ...] = ("onnx",)
    precision: str = "fp32"
    """fp32, fp16, int8 (OpenVINO or TensorRT, calibrated on images of the dataset) or bf16 (OpenVINO computing in
    bfloat16, on CPUs that have it). Other formats of the same export stay at fp32."""
    imgsz: int = 0
    """Input size of the export; 0 = the size the model was trained at."""
    dynamic: bool = False
    """Dynamic batch and image size (ONNX, OpenVINO, TensorRT); also allows batch throughput figures."""
    simplify: bool = True
    """ONNX: simplify the graph (onnxslim)."""
    opset: int | None = None
    """ONNX opset; None = the newest Ultralytics supports."""
    dataset_path: str = ""
    """For the parity check and INT8 calibration; empty = the dataset the model was trained on."""
    split: str = AUTO_SPLIT
    """The split the parity check runs on: auto (test, else val), test, val or train."""
    parity: bool = True
    """Run the source model and each export through the studio's evaluation and compare them."""
    tolerance: float | None = None
    """Largest mAP difference that passes; None = 0.005 (fp32, fp16) or 0.02 (int8, bf16)."""
    check_imgsz: int = 0
    """Image size the parity check runs the export at; 0 = the export's own size."""
    confidence_threshold: float = 0.25
    """Boxes below it are left out of the per-image agreement."""
    timed_runs: int = MIN_TIMED_RUNS
    """Timed predictions per model for the latency figures (after a warm-up)."""
    device: str = "auto"
    nms_free: bool = False
    """YOLO26: export its NMS-free head (its top-k is part of the model; mlcore.engine.heads); else the NMS one."""

    def __post_init__(self) -> None:
        non_empty("model_path", self.model_path, "a run's weights/best.pt or a .pt in a trusted model folder")
        if isinstance(self.formats, str):
            object.__setattr__(self, "formats", (self.formats,))
        if not self.formats:
            raise SpecError(f"formats is empty; give one or more of {', '.join(FORMATS)} (e.g. formats=['onnx']).")
        if len(set(self.formats)) != len(self.formats):
            raise SpecError(f"formats={list(self.formats)} names a format twice; give each once.")
        if self.precision not in PRECISIONS:
            raise SpecError(f"precision={self.precision!r}; use one of {', '.join(PRECISIONS)} (e.g. 'fp32').")
        if self.precision == "int8" and not any(f in ("openvino", "engine") for f in self.formats):
            raise SpecError("precision='int8' is calibrated for OpenVINO (or TensorRT); add formats=['openvino'].")
        if self.precision == "bf16" and "openvino" not in self.formats:
            raise SpecError("precision='bf16' is what OpenVINO computes at on the CPU; add formats=['openvino'].")
        for name in ("imgsz", "check_imgsz"):
            value = whole(
                name,
                getattr(self, name),
                STRIDE,
                zero=True,
                use=f"use a whole number of at least {STRIDE} (e.g. {DEFAULT_IMGSZ}), or 0",
            )
            if value % STRIDE:
                up = (value // STRIDE + 1) * STRIDE
                raise SpecError(
                    f"{name}={value} is not a multiple of the model's stride {STRIDE}: the export would be made at "
                    f"{up} and disagree with what you asked for. Use {value - value % STRIDE or STRIDE} or {up}."
                )
        if self.opset is not None:
            whole("opset", self.opset, 11, 23, use="use an ONNX opset from 11 to 23, or leave it empty (the newest)")
        if self.split not in (AUTO_SPLIT, *SPLITS):
            raise SpecError(f"split={self.split!r}; use {AUTO_SPLIT} (test, else val), test, val or train.")
        if self.tolerance is not None:
            fraction("tolerance", self.tolerance, zero=True, use="use an mAP difference from 0 to 1 (e.g. 0.005)")
        fraction("confidence_threshold", self.confidence_threshold)
        whole(
            "timed_runs",
            self.timed_runs,
            MIN_TIMED_RUNS,
            10_000,
            use=f"use {MIN_TIMED_RUNS} to 10000 (the median needs enough)",
        )
        device("device", self.device, several=True, use="use auto, cpu or a GPU index such as 0")
        flag("nms_free", self.nms_free)

    @property
    def allowed_difference(self) -> float:
        """The mAP difference that still passes."""
        return DEFAULT_TOLERANCE[self.precision] if self.tolerance is None else float(self.tolerance)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "formats": list(self.formats)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportSpec:
        refuse_unknown(cls, data)
        values = dict(data)
        if "formats" in values and not isinstance(values["formats"], str):
            values["formats"] = tuple(values["formats"] or ())
        return cls(**values)
