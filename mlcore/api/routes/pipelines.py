"""Pipelines: start one from a file's content, list them, read one (steps, gate, report), stop, cancel, resume."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from mlcore.api.bodies import PipelineStartRequest
from mlcore.api.context import ApiContext
from mlcore.api.errors import ApiError
from mlcore.jobs.scheduler import refresh
from mlcore.pipelines.submit import (
    cancel_pipeline,
    find_pipeline,
    pipeline_document,
    pipeline_runs,
    pipeline_summary,
    resume_pipeline,
    start_pipeline,
    stop_pipeline,
)


def router(ctx: ApiContext) -> APIRouter:
    """The pipeline routes; the coordinator and its steps run in workers."""
    routes = APIRouter()

    @routes.post("/pipelines", status_code=202, summary="Start a pipeline from a file's content (checked first)")
    def start(body: PipelineStartRequest) -> dict:
        job = start_pipeline(body.content, ctx.settings, owner=ctx.actor, sets=body.set, source="api")
        return pipeline_document(Path(job.run_dir).name, ctx.settings)

    @routes.get("/pipelines", summary="Every pipeline run, newest first: state, steps and the gate's verdict")
    def runs() -> list[dict]:
        refresh(ctx.settings)
        return [pipeline_summary(f, ctx.settings) for f in pipeline_runs(ctx.settings)]

    @routes.get("/pipelines/{name}", summary="One run (its folder's name, or a pipeline's name for its newest run)")
    def run(name: str) -> dict:
        refresh(ctx.settings)
        return pipeline_document(name, ctx.settings)

    @routes.get("/pipelines/{name}/report", response_class=PlainTextResponse, summary="The run's report.md")
    def report(name: str) -> str:
        return _file(name, "report")

    @routes.get("/pipelines/{name}/junit", response_class=PlainTextResponse, summary="The run's junit.xml")
    def junit(name: str) -> str:
        return _file(name, "junit")

    def _file(name: str, which: str) -> str:
        folder = find_pipeline(name, ctx.settings)
        path = folder.report if which == "report" else folder.junit
        if not path.is_file():
            raise ApiError(409, "not_ended", f"pipeline {folder.name} has not ended yet; its {path.name} comes last.")
        return path.read_text(encoding="utf-8")

    @routes.post("/pipelines/{name}/stop", summary="The running step finishes; the later steps are skipped")
    def stop(name: str) -> dict:
        stop_pipeline(name, ctx.settings, actor=ctx.actor)
        return pipeline_document(name, ctx.settings)

    @routes.post("/pipelines/{name}/cancel", summary="End the pipeline and its running step now")
    def cancel(name: str) -> dict:
        cancel_pipeline(name, ctx.settings, actor=ctx.actor)
        return pipeline_document(name, ctx.settings)

    @routes.post("/pipelines/{name}/resume", status_code=202, summary="Go on from the first step not passed")
    def resume(name: str) -> dict:
        resume_pipeline(name, ctx.settings, owner=ctx.actor)
        return pipeline_document(name, ctx.settings)

    return routes
