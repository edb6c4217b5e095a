"""Does an export behave like its source model? Both models' predictions on the same split, compared.

The numbers come from the studio's own evaluation of each (`average_precision`, equal to Ultralytics'
validator), so the same matching serves both. Per image, boxes of the two models are paired (same
class, IoU >= 0.9); what is left over, and the largest confidence difference of a pair, say where
the export disagrees. A failed check comes with its likely cause and what to do.

    report = compare(source, export, ParityContext(precision="fp32", ...), tolerance=0.005)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlcore.evaluation.analysis import Detections, average_precision, box_iou
from mlcore.export.precision import BF16, INFERENCE_HINTS

PAIR_IOU = 0.9
GALLERY_IMAGES = 24  # images that disagree most, kept for the page's gallery


@dataclass(frozen=True)
class ParityContext:
    """How the export was made and checked: what a verdict's likely cause is read from."""

    precision: str
    dynamic: bool
    export_imgsz: int
    check_imgsz: int
    trained_imgsz: int | None
    calibration_images: int = 0
    ran_at: str | None = None
    """The precision OpenVINO reported computing at (f32, bf16, f16); None for the other runtimes."""


def _kept(d: Detections, n: int, conf: float) -> np.ndarray:
    return np.flatnonzero((d.pred_image == n) & (d.pred_conf >= conf))


def image_agreement(a: Detections, b: Detections, conf: float, pair_iou: float = PAIR_IOU) -> list[dict[str, Any]]:
    """For each image: boxes paired, boxes only in `a`, only in `b`, and the largest confidence difference."""
    rows = []
    for n, image in enumerate(a.images):
        ia, ib = _kept(a, n, conf), _kept(b, n, conf)
        ia = ia[np.argsort(-a.pred_conf[ia], kind="stable")]
        free = np.ones(len(ib), dtype=bool)
        ious = box_iou(a.pred_box[ia], b.pred_box[ib]) if len(ia) and len(ib) else np.zeros((len(ia), len(ib)))
        paired, largest = 0, 0.0
        for row, k in enumerate(ia):
            candidates = np.flatnonzero(free & (b.pred_cls[ib] == a.pred_cls[k]) & (ious[row] >= pair_iou))
            if not len(candidates):
                continue
            best = candidates[np.argmax(ious[row, candidates])]
            free[best] = False
            paired += 1
            largest = max(largest, abs(float(a.pred_conf[k]) - float(b.pred_conf[ib[best]])))
        only_a, only_b = len(ia) - paired, int(free.sum())
        rows.append(
            {
                "image": image,
                "index": n,
                "paired": paired,
                "only_source": only_a,
                "only_export": only_b,
                "max_conf_diff": round(largest, 4),
                "disagreement": only_a + only_b + largest,
            }
        )
    return rows


def _causes(ctx: ParityContext, delta: float, rows: list[dict[str, Any]]) -> list[str]:
    """Likely causes of a failed check, most likely first, each with what to do."""
    causes = []
    asked = INFERENCE_HINTS.get(ctx.precision)
    if ctx.ran_at is not None and ctx.ran_at != asked:
        ran = f"OpenVINO ran this {ctx.precision} export at {ctx.ran_at}, not at the {asked} its precision asks for"
        causes.append(
            f"{ran}: its CPU plugin lowers the precision on its own (to bf16 on CPUs with AVX512-BF16 or AMX) unless "
            f"the compile asks for INFERENCE_PRECISION_HINT={asked}; run it with that hint (the studio's predictor "
            "does), or export at bf16 and check it with that precision's tolerance."
            if ctx.ran_at == BF16
            else f"{ran} (this CPU cannot compute at {asked}): the check measured it at {ctx.ran_at}."
        )
    elif ctx.ran_at == BF16:
        causes.append(
            "it ran in bfloat16 (8 significant bits), which rounds every weight and activation: export at fp32 if the "
            "difference matters, or accept a larger tolerance."
        )
    if ctx.check_imgsz != ctx.export_imgsz:
        causes.append(
            f"image size mismatch: the export was made at imgsz={ctx.export_imgsz} and checked at "
            f"{ctx.check_imgsz}, so the letterbox scales the images differently; serve and check it at the size "
            "it was exported at."
        )
    if ctx.trained_imgsz and ctx.export_imgsz != ctx.trained_imgsz:
        causes.append(
            f"the model was trained at imgsz={ctx.trained_imgsz} but exported at {ctx.export_imgsz}; export at "
            f"{ctx.trained_imgsz} unless you also fine-tune at the new size."
        )
    if ctx.precision == "int8":
        causes.append(
            f"INT8 quantization calibrated on {ctx.calibration_images} image(s): calibrate on more images of the "
            "dataset (300 or more), export at fp16 instead, or accept a larger tolerance."
        )
    if ctx.precision == "fp16":
        causes.append("half precision rounds the weights: export at fp32 if the difference matters.")
    if ctx.dynamic:
        causes.append(
            "dynamic shapes: the export pads images to their own shape instead of the fixed square; export without "
            "dynamic (batch 1 at a fixed size) for results that match the .pt."
        )
    extra = sum(r["only_export"] for r in rows) - sum(r["only_source"] for r in rows)
    if abs(extra) > 0.1 * max(1, sum(r["paired"] for r in rows)):
        side = "more" if extra > 0 else "fewer"
        causes.append(
            f"the export keeps {abs(extra)} {side} boxes than the source: serve it with the same confidence and "
            "NMS IoU thresholds (Ultralytics' predict applies them; raw runtimes do not)."
        )
    if not causes:
        causes.append(
            f"the conversion changed the model's numbers (mAP50-95 {delta:+.4f}); check the runtime versions."
        )
    return causes


def compare(source: Detections, export: Detections, ctx: ParityContext, tolerance: float, conf: float = 0.25) -> dict:
    """Both models' mAP, their differences, the verdict (with causes when it fails) and the worst images."""
    ap_s, ap_e = average_precision(source), average_precision(export)
    rows = image_agreement(source, export, conf)
    d50 = ap_e["map50"] - ap_s["map50"]
    d5095 = ap_e["map50_95"] - ap_s["map50_95"]
    passed = abs(d50) <= tolerance and abs(d5095) <= tolerance
    worst = sorted((r for r in rows if r["disagreement"] > 0), key=lambda r: -r["disagreement"])[:GALLERY_IMAGES]
    causes = [] if passed else _causes(ctx, d5095, rows)
    difference = f"mAP50-95 differs by {d5095:+.4f}, mAP50 by {d50:+.4f} (tolerance ±{tolerance})"
    verdict = f"passed: {difference}." if passed else f"failed: {difference}. Likely: {causes[0]}"
    return {
        "passed": passed,
        "verdict": verdict,
        "causes": causes,
        "tolerance": tolerance,
        "images": len(source.images),
        "map50_source": ap_s["map50"],
        "map50_export": ap_e["map50"],
        "map50_95_source": ap_s["map50_95"],
        "map50_95_export": ap_e["map50_95"],
        "map50_delta": d50,
        "map50_95_delta": d5095,
        "boxes_paired": sum(r["paired"] for r in rows),
        "boxes_only_source": sum(r["only_source"] for r in rows),
        "boxes_only_export": sum(r["only_export"] for r in rows),
        "max_conf_diff": max((r["max_conf_diff"] for r in rows), default=0.0),
        "images_disagreeing": sum(1 for r in rows if r["only_source"] or r["only_export"]),
        "worst_images": worst,
        "confidence_threshold": conf,
        "pair_iou": PAIR_IOU,
        "ran_at": ctx.ran_at,
    }
