"""Know your data: label-error audits, the images to label next, drift reports. Each is a job: POST queues it
(202), GET lists them or reads one (state, progress, then its result), POST .../cancel ends it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from mlcore.api.bodies import AuditRequest, DriftRequest, SelectionRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.jobs.scheduler import refresh
from mlcore.quality.spec import AuditSpec, DriftSpec, SelectSpec
from mlcore.quality.store import cancel_quality_job, quality_jobs, quality_report
from mlcore.quality.submit import AUDIT_KIND, DRIFT_KIND, SELECTION_KIND, submit_audit, submit_drift, submit_selection
from mlcore.registry.references import registered_path


def router(ctx: ApiContext) -> APIRouter:
    routes = APIRouter()

    def listing(kind: str) -> list[dict]:
        refresh(ctx.settings)
        return [{k: v for k, v in quality_report(j, ctx.store).items() if k != "result"}
                for j in quality_jobs(ctx.store, kind)]  # fmt: skip

    def one(kind: str, job_id: str) -> dict:
        refresh(ctx.settings)
        return quality_report(ctx.job(job_id, kind), ctx.store)

    def cancel(kind: str, job_id: str) -> dict:
        ctx.job(job_id, kind)
        return quality_report(cancel_quality_job(job_id, ctx.settings, actor=ctx.actor), ctx.store)

    def model(text: str | None) -> str | None:
        return registered_path(text, ctx.settings) if text else text

    def started(submit: Callable[..., Any], spec: Any) -> dict:
        return quality_report(submit(spec, ctx.settings, owner=ctx.actor), ctx.store)

    @routes.post(
        "/audits", status_code=202, summary="Audit a split's labels with a model (overlooked, swapped, badly located)"
    )
    def start_audit(body: AuditRequest) -> dict:
        fields = body.model_dump() | {"dataset_path": dataset_path(body.dataset_path, ctx.settings),
                                      "model_path": model(body.model_path)}  # fmt: skip
        return started(submit_audit, AuditSpec.from_dict(fields))

    @routes.get("/audits", summary="Every label audit, newest first")
    def audits() -> list[dict]:
        return listing(AUDIT_KIND)

    @routes.get("/audits/{audit_id}", summary="One audit: progress, then images worst first and typed suspects")
    def audit(audit_id: str) -> dict:
        return one(AUDIT_KIND, audit_id)

    @routes.post("/audits/{audit_id}/cancel", summary="Cancel an audit (and a K-fold audit's trainings)")
    def cancel_audit(audit_id: str) -> dict:
        return cancel(AUDIT_KIND, audit_id)

    @routes.post("/selections", status_code=202, summary="Rank unlabelled images by what a label would teach")
    def start_selection(body: SelectionRequest) -> dict:
        fields = body.model_dump() | {"images": dataset_path(body.images, ctx.settings),
                                      "model_path": model(body.model_path)}  # fmt: skip
        return started(submit_selection, SelectSpec.from_dict(fields))

    @routes.get("/selections", summary="Every selection, newest first")
    def selections() -> list[dict]:
        return listing(SELECTION_KIND)

    @routes.get("/selections/{selection_id}", summary="One selection: progress, then the ranking and the chosen")
    def selection(selection_id: str) -> dict:
        return one(SELECTION_KIND, selection_id)

    @routes.post("/selections/{selection_id}/cancel", summary="Cancel a selection")
    def cancel_selection(selection_id: str) -> dict:
        return cancel(SELECTION_KIND, selection_id)

    @routes.post("/drift", status_code=202, summary="Compare new images (and predictions) with a dataset's split")
    def start_drift(body: DriftRequest) -> dict:
        fields = body.model_dump() | {"images": dataset_path(body.images, ctx.settings),
                                      "dataset_path": dataset_path(body.dataset_path, ctx.settings),
                                      "model_path": model(body.model_path)}  # fmt: skip
        return started(submit_drift, DriftSpec.from_dict(fields))

    @routes.get("/drift", summary="Every drift report, newest first")
    def drift_reports() -> list[dict]:
        return listing(DRIFT_KIND)

    @routes.get("/drift/{drift_id}", summary="One drift report: progress, then each feature's PSI and verdict")
    def drift(drift_id: str) -> dict:
        return one(DRIFT_KIND, drift_id)

    @routes.post("/drift/{drift_id}/cancel", summary="Cancel a drift report")
    def cancel_drift(drift_id: str) -> dict:
        return cancel(DRIFT_KIND, drift_id)

    return routes
