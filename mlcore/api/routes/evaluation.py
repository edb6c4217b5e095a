"""Evaluations of a model on a dataset split: queue one, list them, read one, cancel one."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter

from mlcore.api.bodies import ModelValidateRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.api.job_report import evaluation_status
from mlcore.api.routes.jobs import add_job_routes
from mlcore.evaluation.spec import EvalSpec
from mlcore.evaluation.submit import submit_evaluation
from mlcore.jobs.kinds import JobKind, JobTask
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

    # a run's metrics job is an evaluation too, of another task: these routes neither list nor find it
    add_job_routes(
        routes,
        ctx,
        JobKind.EVALUATION,
        evaluation_status,
        "evaluation_id",
        listing=("evaluations", "Every evaluation"),
        read=("evaluation", "One evaluation: status, progress, and metrics when done"),
        cancel=("cancel_evaluation", "Cancel an evaluation"),
        tasks=(JobTask.EVALUATE,),
    )
    return routes
