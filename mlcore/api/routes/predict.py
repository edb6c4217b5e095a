"""Predictions: one image or several answered at once by the predictor process, and batch jobs over a folder
or a video. Files go as multipart form data; boxes come back in the original image's pixels."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, UploadFile

from mlcore.api.bodies import MODEL_NAME, PredictionsRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.api.errors import ApiError
from mlcore.api.job_report import prediction_status
from mlcore.api.routes.jobs import add_job_routes
from mlcore.core.errors import SubmitError
from mlcore.jobs.kinds import JobKind
from mlcore.predict.answers import Answer, TooManyFiles, answer_files
from mlcore.predict.client import PredictorBusy, PredictorUnavailable
from mlcore.predict.profile import ProfileError
from mlcore.predict.spec import PredictSpec
from mlcore.predict.submit import submit_predictions
from mlcore.registry.references import model_path as named_model

MODEL_HELP = f"{MODEL_NAME} Empty = ML_STUDIO_DEFAULT_MODEL."
NMS_FREE_FIELD = "YOLO26: true runs its NMS-free head (the IoU has no effect); empty = the profile's (or false)."
PROFILE_HELP = "default (the model's saved profile), none, a JSON object, or a profile.json under the outputs root."


def router(ctx: ApiContext) -> APIRouter:
    routes = APIRouter()

    def answered(
        files: list[UploadFile],
        model_path: str,
        confidence: float | None,
        iou: float | None,
        profile: str,
        nms_free: bool | None,
    ) -> tuple[str, bool, list[Answer]]:
        limit = ctx.settings.predict.max_image_bytes
        sent = [(f.filename or f"file {n + 1}", f.file.read(limit + 1), f.content_type) for n, f in enumerate(files)]
        try:
            model_path = named_model(model_path, ctx.settings) if model_path.strip() else model_path  # "": the default
            model, used, answers = answer_files(
                ctx.predictor, ctx.settings, model_path, sent, confidence, iou, profile, nms_free
            )
        except ProfileError as exc:
            raise ApiError(422, "bad_profile", str(exc)) from None
        except TooManyFiles as exc:
            raise ApiError(413, "too_many_files", str(exc)) from None
        except SubmitError as exc:
            raise ApiError(400, "bad_model", str(exc)) from None
        except PredictorBusy as exc:
            raise ApiError(429, "busy", str(exc), {"Retry-After": str(exc.retry_after)}) from None
        except PredictorUnavailable as exc:
            raise ApiError(503, "predictor_unavailable", str(exc), {"Retry-After": "2"}) from None
        return str(model), used.nms_free, answers

    @routes.post("/predict", summary="Detections on one image, from a model kept loaded")
    def predict(
        file: UploadFile = File(description="A JPEG, PNG, WebP, BMP or TIFF image."),  # noqa: B008
        model_path: str = Form("", description=MODEL_HELP),
        confidence_threshold: float | None = Form(None, description="Empty = the profile's (or 0.25)."),
        iou_threshold: float | None = Form(None, description="NMS IoU; empty = the profile's (or 0.7)."),
        profile: str = Form("default", description=PROFILE_HELP),
        nms_free: bool | None = Form(None, description=NMS_FREE_FIELD),
    ) -> dict:
        model, head, (answer,) = answered([file], model_path, confidence_threshold, iou_threshold, profile, nms_free)
        if answer.error:
            raise ApiError(answer.status, answer.code, answer.error)
        result = answer.to_dict(model)
        result.pop("file")
        return {**result, "nms_free": head}

    @routes.post("/predict_batch", summary="Detections on several images, one result per file in order")
    def predict_batch(
        files: list[UploadFile] = File(description="Images; a file that fails is reported in its place."),  # noqa: B008
        model_path: str = Form("", description=MODEL_HELP),
        confidence_threshold: float | None = Form(None),
        iou_threshold: float | None = Form(None),
        profile: str = Form("default", description=PROFILE_HELP),
        nms_free: bool | None = Form(None, description=NMS_FREE_FIELD),
    ) -> dict:
        model, head, answers = answered(files, model_path, confidence_threshold, iou_threshold, profile, nms_free)
        return {"model": model, "nms_free": head, "results": [a.to_dict(model) for a in answers]}

    @routes.get("/predictor", summary="The predictor process: running, its models in memory, their size")
    def predictor() -> dict:
        return ctx.predictor.status()

    @routes.post("/predictions", status_code=202, summary="Queue a batch prediction over a folder or a video")
    def start_predictions(body: PredictionsRequest) -> dict:
        fields = body.model_dump()
        fields["source"] = dataset_path(body.source, ctx.settings)
        if body.model_path.strip():  # "": the configured default model
            fields["model_path"] = named_model(body.model_path, ctx.settings)
        job = submit_predictions(PredictSpec.from_dict(fields), ctx.settings, owner=ctx.actor)
        return prediction_status(job, ctx.store)

    add_job_routes(
        routes,
        ctx,
        JobKind.PREDICTION,
        prediction_status,
        "prediction_id",
        listing=("predictions", "Every batch prediction"),
        read=("prediction", "One batch prediction: progress, then its summary and files"),
        stop=("stop_prediction", "Stop a batch prediction, keeping what it wrote"),
        cancel=("cancel_prediction", "Cancel a batch prediction"),
    )
    return routes
