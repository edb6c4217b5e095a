"""Exports of a model for deployment: queue one, list them, read one (with its parity and latency), cancel one."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter

from mlcore.api.bodies import ModelExportRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.api.job_report import export_status
from mlcore.api.routes.jobs import add_job_routes
from mlcore.export.spec import ExportSpec
from mlcore.export.submit import submit_export
from mlcore.jobs.kinds import JobKind
from mlcore.registry.references import model_path


def router(ctx: ApiContext) -> APIRouter:
    """The export routes; the jobs run in workers."""
    routes = APIRouter()

    @routes.post("/model/export", status_code=202, summary="Queue an export (ONNX, OpenVINO, ...) with a parity check")
    def export_model(body: ModelExportRequest) -> dict:
        fields = body.model_dump()
        if body.dataset_path:
            fields["dataset_path"] = dataset_path(body.dataset_path, ctx.settings)
        spec = ExportSpec.from_dict(fields)  # a bad field is refused first (422), then a model of no name (400)
        spec = replace(spec, model_path=model_path(spec.model_path, ctx.settings, True, "an export"))
        job = submit_export(spec, ctx.settings, owner=ctx.actor)
        return export_status(job, ctx.store)  # it leads with export_id

    add_job_routes(
        routes,
        ctx,
        JobKind.EXPORT,
        export_status,
        "export_id",
        listing=("exports", "Every export"),
        read=("export", "One export: status, progress, and each format's parity and latency"),
        cancel=("cancel_export", "Cancel an export"),
    )
    return routes
