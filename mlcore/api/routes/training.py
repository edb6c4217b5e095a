"""Trainings: queue one in any mode, list them, read one, stop or cancel it, tail its log."""

from __future__ import annotations

import base64
from dataclasses import replace

from fastapi import APIRouter, Query

from mlcore.api.bodies import AugmentationPreviewRequest, TrainingStartRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.api.job_report import training_status
from mlcore.api.routes.jobs import add_job_routes
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.progress import tail
from mlcore.jobs.scheduler import job_log
from mlcore.registry.references import model_path
from mlcore.training.augment_preview import preview_augmentation
from mlcore.training.estimate import time_a_few_batches
from mlcore.training.spec import CONTINUING_MODES, TrainSpec
from mlcore.training.submit import start


def router(ctx: ApiContext) -> APIRouter:
    """The training routes; the jobs run in workers, and reading them advances the queue."""
    routes = APIRouter()

    def named_base(spec: TrainSpec) -> TrainSpec:
        """A transfer's base model named (after the spec's own checks: a bad field is a 422, a bad name a 400)."""
        if not spec.base_model_path:
            return spec
        return replace(spec, base_model_path=model_path(spec.base_model_path, ctx.settings, True, "a training"))

    @routes.post("/training/start", status_code=202, summary="Queue a training (full, transfer, resume, extend)")
    def start_training(body: TrainingStartRequest) -> dict:
        fields = body.model_dump(exclude_unset=True)
        if body.mode not in CONTINUING_MODES:
            fields["dataset_path"] = dataset_path(body.dataset_path, ctx.settings)
        job = start(named_base(TrainSpec.from_dict(fields)), ctx.settings, owner=ctx.actor)
        return training_status(job, ctx.store)  # it leads with training_id

    @routes.post("/training/estimate", summary="How long a training would take: a few of its batches timed here")
    def estimate(body: TrainingStartRequest) -> dict:
        fields = body.model_dump(exclude_unset=True)
        fields["dataset_path"] = dataset_path(body.dataset_path, ctx.settings)
        spec = named_base(TrainSpec.from_dict(fields))
        timing = time_a_few_batches(spec, ctx.settings)
        return timing.to_dict() | {"epochs": spec.epochs, "sentence": timing.sentence(spec.epochs)}

    @routes.post("/training/augmentation-preview", summary="Training samples drawn with augmentation settings")
    def augmentation_preview(body: AugmentationPreviewRequest) -> dict:
        preview = preview_augmentation(
            dataset_path(body.dataset_path, ctx.settings),
            ctx.settings,
            body.augmentation,
            seed=body.seed,
            count=body.samples,
            imgsz=body.imgsz,
        )
        grid = base64.b64encode(preview.grid.read_bytes()).decode()  # the samples with their boxes, a PNG
        return {
            "seed": preview.seed,
            "augmentation": preview.augmentation,
            "samples": preview.samples,
            "seconds": preview.seconds,
            "grid_png": grid,
        }

    # before /training/{training_id}/log, so that /training/status/log stays a training's status
    add_job_routes(
        routes,
        ctx,
        JobKind.TRAINING,
        training_status,
        "training_id",
        listing=("trainings", "Every training"),
        read=("training", "One training: status, progress (%), epoch, metrics"),
        stop=("stop", "Stop after the current batch, keeping the weights"),
        cancel=("cancel", "Cancel now (queued or running)"),
        actions_at="/training/{training_id}",
    )

    @routes.get("/training/{training_id}/log", summary="The last lines of a training's log")
    def training_log(training_id: str, lines: int = Query(100, ge=1, le=5000)) -> dict:  # noqa: B008
        job = ctx.job(training_id, JobKind.TRAINING)
        return {"training_id": job.id, "log": tail(job_log(job, ctx.settings), lines)}

    return routes
