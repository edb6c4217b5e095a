"""Evaluations of a model on a dataset split: queue one, list them, read one, cancel one."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter

from mlcore.api.bodies import ModelValidateRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.api.job_report import evaluation_status
from mlcore.evaluation.spec import EVALUATE_TASK, EvalSpec
from mlcore.evaluation.submit import submit_evaluation
from mlcore.jobs.control import cancel_job
from mlcore.jobs.scheduler import refresh
from mlcore.registry.references import resolve_reference


def router(ctx: ApiContext) -> APIRouter:
    """The evaluation routes (the original system's /model/validate); the jobs run in workers."""
    routes = APIRouter()

    @routes.post("/model/validate", status_code=202, summary="Queue an evaluation of a model on a dataset split")
    def validate_model(body: ModelValidateRequest) -> dict:
        fields = body.model_dump()
        fields["test_dataset_path"] = dataset_path(body.test_dataset_path, ctx.settings)
        spec = EvalSpec.from_dict(fields)  # a bad field is refused first (422), then a model of no name (400)
        model = resolve_reference(spec.model_path, ctx.settings).path
        job = submit_evaluation(replace(spec, model_path=str(model)), ctx.settings, owner=ctx.actor, model=model)
        return evaluation_status(job, ctx.store)  # it leads with evaluation_id

    @routes.get("/model/validate", summary="Every evaluation")
    def evaluations() -> list[dict]:
        refresh(ctx.settings)
        return [
            evaluation_status(j, ctx.store)
            for j in ctx.store.list(kind="evaluation")
            if j.spec.get("task") == EVALUATE_TASK
        ]

    @routes.get("/model/validate/{evaluation_id}", summary="One evaluation: status, progress, and metrics when done")
    def evaluation(evaluation_id: str) -> dict:
        refresh(ctx.settings)
        return evaluation_status(ctx.job(evaluation_id, "evaluation"), ctx.store)

    @routes.post("/model/validate/{evaluation_id}/cancel", summary="Cancel an evaluation")
    def cancel_evaluation(evaluation_id: str) -> dict:
        ctx.job(evaluation_id, "evaluation")
        return evaluation_status(cancel_job(evaluation_id, ctx.settings, actor=ctx.actor), ctx.store)

    return routes
