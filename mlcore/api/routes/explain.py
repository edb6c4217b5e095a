"""Explanations over HTTP, as `python -m mlcore explain`: per-box saliency maps of one image. Gradient maps of a
.pt model are answered at once by the predictor process (maps as base64 PNG); D-RISE (any model, an export's only
way) is a job: 202, then GET /explanations/{id} until it has ended."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse

from mlcore.api.context import ApiContext
from mlcore.api.errors import ApiError
from mlcore.api.job_report import explanation_status
from mlcore.api.routes.jobs import add_job_routes
from mlcore.core.safe_paths import resolve_model
from mlcore.engine.heads import head_of
from mlcore.engine.trained_size import image_size
from mlcore.explain.explainer import default_method
from mlcore.explain.render import b64, map_png, overlay, png
from mlcore.explain.saliency import DRISE, GRADIENT
from mlcore.explain.spec import ExplainSpec
from mlcore.explain.submit import image_file, submit_explanation
from mlcore.jobs.kinds import JobKind
from mlcore.predict.client import PredictorBusy, PredictorUnavailable
from mlcore.predict.images import ImageRejected, decode_image
from mlcore.registry.references import model_path as named_model

TARGETS_HELP = (
    'Boxes of your own instead of the model\'s, as JSON: [{"box": [x1, y1, x2, y2], "class_id": 1, "role": '
    '"missed"}] (pixels of the image): an evaluation\'s false positive, missed object or wrong class.'
)


def router(ctx: ApiContext) -> APIRouter:
    routes = APIRouter()
    settings = ctx.settings

    @routes.post(
        "/explain",
        summary="Per-box saliency maps of one image: gradient maps now, or a D-RISE job (202)",
        responses={202: {"description": "D-RISE: the job was queued; follow GET /explanations/{explanation_id}"}},
    )
    def explain_image(
        file: UploadFile | None = File(None, description="The image (or give `image`, a path)."),  # noqa: B008
        image: str = Form("", description="An image file under the allowed folders (instead of a file)."),
        model_path: str = Form(description="A run's weights, NAME@ALIAS, NAME:N or an export."),
        box: int | None = Form(None, description="Only the model's box N (best first); empty: every box."),
        class_name: str | None = Form(None, description="Explain this class's score at the box(es) instead."),
        targets: str | None = Form(None, description=TARGETS_HELP),
        method: str = Form("", description="gradient (.pt) or drise (any model); empty: gradient for a .pt."),
        masks: int = Form(1000, description="D-RISE: masks (its cost grows with them)."),
        seed: int = Form(0, description="D-RISE: the masks' seed."),
        confidence: float = Form(0.25, description="The model's boxes explained: those at this confidence."),
        imgsz: int = Form(0, description="0: the size the model was trained at."),
        nms_free: bool = Form(False, description="YOLO26: explain its NMS-free head."),
    ) -> Any:
        if (file is None) == (not image.strip()):
            raise ApiError(422, "bad_field", "send the image as `file`, or name one with `image`; one of the two.")
        try:
            parsed = json.loads(targets) if targets else None
        except ValueError:
            raise ApiError(422, "bad_field", f"targets is not JSON: {str(targets)[:80]!r}; {TARGETS_HELP}") from None
        if parsed is not None and not isinstance(parsed, list):
            raise ApiError(422, "bad_field", f"targets must be a list of boxes. {TARGETS_HELP}")
        model = named_model(model_path, settings) if model_path.strip() else model_path
        spec = ExplainSpec(
            model_path=model,
            image=image.strip() or (file.filename if file else "") or "upload",
            box=box,
            class_name=class_name or None,
            targets=parsed,
            method=method,
            masks=masks,
            seed=seed,
            confidence=confidence,
            imgsz=imgsz,
            nms_free=nms_free,
        )
        pixels, name = _image(file, image)
        resolved = resolve_model(spec.model_path, settings)
        if (spec.method or default_method(resolved)) == DRISE:
            upload = (png(pixels), f"{Path(name).stem}.png")
            job = submit_explanation(spec, settings, owner=ctx.actor, upload=upload)
            return JSONResponse(explanation_status(job, ctx.store), status_code=202)
        return _gradient(spec, resolved, pixels)

    def _image(file: UploadFile | None, image: str) -> tuple[np.ndarray, str]:
        """The image's pixels (EXIF orientation applied) and its name, within the predictor's limits."""
        if file is not None:
            data, name, kind = (
                file.file.read(settings.predict.max_image_bytes + 1),
                file.filename or "upload",
                file.content_type,
            )
        else:
            found = image_file(image.strip(), settings)
            data, name, kind = found.read_bytes(), found.name, None
        try:
            return decode_image(data, name, settings.predict, kind).pixels, name
        except ImageRejected as exc:
            raise ApiError(exc.status, exc.code, str(exc)) from None

    def _gradient(spec: ExplainSpec, model: Path, pixels: np.ndarray) -> dict[str, Any]:
        head_of(model, spec.nms_free)
        size = image_size(spec.imgsz, model, settings)
        try:
            answer = ctx.predictor.explain(
                model,
                pixels,
                size.used,
                targets=spec.targets,
                pick=None if spec.box is None else [spec.box],
                conf=spec.confidence,
                nms_free=spec.nms_free,
                as_class=spec.class_name,
            )
        except PredictorBusy as exc:
            raise ApiError(429, "busy", str(exc), {"Retry-After": str(exc.retry_after)}) from None
        except PredictorUnavailable as exc:
            raise ApiError(503, "predictor_unavailable", str(exc), {"Retry-After": "2"}) from None
        if "error" in answer:
            raise ApiError(answer["status"], answer["code"], answer["error"])
        boxes = []
        for found in answer["boxes"]:
            saliency = found.pop("map").astype("float32")
            picture = overlay(pixels, saliency, 0.5, tuple(found["box"]))
            boxes.append({**found, "map_png": b64(map_png(saliency)), "overlay_png": b64(png(picture))})
        return {
            "model": str(model),
            "method": GRADIENT,
            "imgsz": size.used,
            "imgsz_warning": size.warning,
            "explain_ms": answer.get("explain_ms"),
            "boxes": boxes,
        }

    add_job_routes(
        routes,
        ctx,
        JobKind.EXPLANATION,
        explanation_status,
        "explanation_id",
        listing=("explanations", "Every explanation job"),
        read=("explanation", "One explanation job: progress, then each box's numbers and pictures"),
        stop=("stop_explanation", "Stop a D-RISE explanation, keeping maps from the masks so far"),
        cancel=("cancel_explanation", "Cancel an explanation job"),
    )
    return routes
