"""Know your data: label-error audits, the images to label next, drift reports. Each is a job: POST queues it
(202), GET lists them or reads one (state, progress, then its result), POST .../cancel ends it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from fastapi import APIRouter

from mlcore.api.bodies import AuditRequest, DriftRequest, SelectionRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.api.routes.jobs import add_job_routes
from mlcore.jobs.kinds import KINDS, JobKind
from mlcore.quality.spec import AuditSpec, DriftSpec, SelectSpec
from mlcore.quality.store import cancel_quality_job, quality_jobs, quality_report
from mlcore.quality.submit import submit_audit, submit_drift, submit_selection
from mlcore.registry.references import model_path

QUALITY_KINDS = (JobKind.AUDIT, JobKind.SELECTION, JobKind.DRIFT)


def router(ctx: ApiContext) -> APIRouter:
    routes = APIRouter()

    def started(submit: Callable[..., Any], spec: Any, weights_only: bool = False) -> dict:
        """The spec checked first (422 for a bad field), then its model named (400 when it names none)."""
        if spec.model_path:
            spec = replace(spec, model_path=model_path(spec.model_path, ctx.settings, weights_only, "a label audit"))
        return quality_report(submit(spec, ctx.settings, owner=ctx.actor), ctx.store)

    @routes.post(
        "/audits", status_code=202, summary="Audit a split's labels with a model (overlooked, swapped, badly located)"
    )
    def start_audit(body: AuditRequest) -> dict:
        fields = body.model_dump() | {"dataset_path": dataset_path(body.dataset_path, ctx.settings)}
        return started(submit_audit, AuditSpec.from_dict(fields), weights_only=True)

    @routes.post("/selections", status_code=202, summary="Rank unlabelled images by what a label would teach")
    def start_selection(body: SelectionRequest) -> dict:
        fields = body.model_dump() | {"images": dataset_path(body.images, ctx.settings)}
        return started(submit_selection, SelectSpec.from_dict(fields))

    @routes.post("/drift", status_code=202, summary="Compare new images (and predictions) with a dataset's split")
    def start_drift(body: DriftRequest) -> dict:
        fields = body.model_dump() | {
            "images": dataset_path(body.images, ctx.settings),
            "dataset_path": dataset_path(body.dataset_path, ctx.settings),
        }
        return started(submit_drift, DriftSpec.from_dict(fields))

    for kind in QUALITY_KINDS:
        path, noun = KINDS[kind].listing, KINDS[kind].noun
        kfold = " (and a K-fold audit's trainings)" if kind == JobKind.AUDIT else ""
        add_job_routes(
            routes,
            ctx,
            kind,
            quality_report,
            "job_id",
            listing=(f"list_{path}", f"Every {noun}, newest first"),
            read=(f"read_{path}", f"One {noun}: its state and progress, then its result"),
            cancel=(f"cancel_{path}", f"Cancel a {noun}{kfold}"),
            jobs=partial(quality_jobs, kind=kind),
            row=lambda shown: {k: v for k, v in shown.items() if k != "result"},
            cancelling=cancel_quality_job,
        )
    return routes
