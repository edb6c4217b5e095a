"""What a D-RISE explanation will cost before it starts: one prediction per mask, timed by the export's own latency
figure when its model card has one, else by a CPU rule of thumb scaled by the input's pixels."""

from __future__ import annotations

from pathlib import Path

from mlcore.engine.trained_size import export_card

CPU_MS_AT_320 = 8.0  # yolov8n ONNX, 2 CPU cores, 320 px (benchmarks/explain_speed.py: 8.7 ms a mask in all)
OVERHEAD = 1.15  # masking the copies and weighing the masks


def prediction_ms(model: Path, imgsz: int) -> tuple[float, str]:
    """Milliseconds per prediction, and where the figure comes from."""
    card = export_card(model) or {}
    for entry in card.get("formats") or []:
        if Path(str(entry.get("path"))).resolve() == model.resolve():
            measured = (entry.get("latency") or {}).get("median_ms")
            if measured:
                return float(measured), "the export's measured latency"
    return CPU_MS_AT_320 * (imgsz / 320) ** 2, "a CPU estimate for a nano model"


def estimated_seconds(model: Path, imgsz: int, masks: int) -> tuple[float, str]:
    ms, source = prediction_ms(model, imgsz)
    return ms * masks * OVERHEAD / 1000, source
