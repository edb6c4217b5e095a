"""Hyperparameter studies: start one, list them, read one (its trials and best so far), stop, cancel, resume."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from fastapi import APIRouter

from mlcore.api.bodies import TuningStartRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.jobs.scheduler import refresh
from mlcore.registry.references import model_path
from mlcore.tuning.spec import TuneSpec
from mlcore.tuning.submit import cancel_study, resume_study, start_study, stop_study, study_names, study_report


def router(ctx: ApiContext) -> APIRouter:
    """The tuning routes; the coordinator and the trials run in workers."""
    routes = APIRouter()

    @routes.post("/tuning/start", status_code=202, summary="Start a hyperparameter study (Optuna, trials as jobs)")
    def start(body: TuningStartRequest) -> dict:
        fields = body.model_dump()
        fields["study"] = body.study.strip() or f"study-{datetime.now():%Y%m%d-%H%M%S}"
        fields["dataset_path"] = dataset_path(body.dataset_path, ctx.settings)
        spec = TuneSpec.from_dict(fields)  # a bad field is refused first (422), then a model of no name (400)
        if spec.base_model_path:
            spec = replace(spec, base_model_path=model_path(spec.base_model_path, ctx.settings, True, "a study"))
        start_study(spec, ctx.settings, owner=ctx.actor)
        return study_report(spec.study, ctx.settings)

    @routes.get("/tuning", summary="Every study, newest first: state, trials and best value")
    def studies() -> list[dict]:
        refresh(ctx.settings)
        keys = ("study", "state", "objective", "best_value", "best_run", "counts")
        return [{k: r[k] for k in keys} | {"trials": len(r["trials"])} for r in map(_report, study_names(ctx.settings))]

    def _report(name: str) -> dict:
        return study_report(name, ctx.settings)

    @routes.get("/tuning/{study}", summary="One study: state, trials (params, value, run), best so far, its storage")
    def study(study: str) -> dict:
        refresh(ctx.settings)
        return study_report(study, ctx.settings)

    @routes.post("/tuning/{study}/stop", summary="Queue no more trials; the running trials finish")
    def stop(study: str) -> dict:
        stop_study(study, ctx.settings, actor=ctx.actor)
        return study_report(study, ctx.settings)

    @routes.post("/tuning/{study}/cancel", summary="End the study and its running trials now")
    def cancel(study: str) -> dict:
        cancel_study(study, ctx.settings, actor=ctx.actor)
        return study_report(study, ctx.settings)

    @routes.post("/tuning/{study}/resume", status_code=202, summary="Go on where an interrupted or stopped study was")
    def resume(study: str) -> dict:
        resume_study(study, ctx.settings, owner=ctx.actor)
        return study_report(study, ctx.settings)

    return routes
