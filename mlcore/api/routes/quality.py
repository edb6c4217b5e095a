"""Know your data: label-error audits, the images to label next, drift reports. Each is a job: POST queues it
(202), GET lists them or reads one (state, progress, then its result), POST .../cancel ends it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter

from mlcore.api.bodies import AuditRequest, DriftRequest, SelectionRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.jobs.scheduler import refresh
from mlcore.quality.spec import AuditSpec, DriftSpec, SelectSpec
from mlcore.quality.store import cancel_quality_job, quality_jobs, quality_report
from mlcore.quality.submit import AUDIT_KIND, DRIFT_KIND, SELECTION_KIND, submit_audit, submit_drift, submit_selection
from mlcore.registry.references import model_path

# kind -> (its path, its name in the summaries)
RESOURCES = {AUDIT_KIND: ("audits", "label audit"), SELECTION_KIND: ("selections", "selection"),
             DRIFT_KIND: ("drift", "drift report")}  # fmt: skip


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
        fields = body.model_dump() | {"images": dataset_path(body.images, ctx.settings),
                                      "dataset_path": dataset_path(body.dataset_path, ctx.settings)}  # fmt: skip
        return started(submit_drift, DriftSpec.from_dict(fields))

    for kind, (path, noun) in RESOURCES.items():
        add_job_routes(routes, ctx, kind, path, noun)
    return routes


def add_job_routes(routes: APIRouter, ctx: ApiContext, kind: str, path: str, noun: str) -> None:
    """GET /{path} (every job, newest first), GET /{path}/{id} (with its result once completed), POST .../cancel."""

    def listing() -> list[dict]:
        refresh(ctx.settings)
        return [{k: v for k, v in quality_report(j, ctx.store).items() if k != "result"}
                for j in quality_jobs(ctx.store, kind)]  # fmt: skip

    def one(job_id: str) -> dict:
        refresh(ctx.settings)
        return quality_report(ctx.job(job_id, kind), ctx.store)

    def cancel(job_id: str) -> dict:
        ctx.job(job_id, kind)
        return quality_report(cancel_quality_job(job_id, ctx.settings, actor=ctx.actor), ctx.store)

    routes.add_api_route(f"/{path}", listing, methods=["GET"], summary=f"Every {noun}, newest first",
                         name=f"list_{path}")  # fmt: skip
    routes.add_api_route(f"/{path}/{{job_id}}", one, methods=["GET"], name=f"read_{path}",
                         summary=f"One {noun}: its state and progress, then its result")  # fmt: skip
    routes.add_api_route(f"/{path}/{{job_id}}/cancel", cancel, methods=["POST"], name=f"cancel_{path}",
                         summary=f"Cancel a {noun}" + (" (and a K-fold audit's trainings)" if kind == AUDIT_KIND
                                                        else ""))  # fmt: skip
