"""Training runs on disk: the list with best metrics, weight downloads, and chart exports."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from mlcore.api.bodies import VisualizeRequest
from mlcore.api.context import PREFIX, ApiContext
from mlcore.api.errors import ApiError
from mlcore.charts.report import FLAGS, export_visualizations, find_run
from mlcore.core import paths
from mlcore.core.paths import RunFolder
from mlcore.jobs.scheduler import refresh
from mlcore.runs.store import list_runs, run_states, runs_table

WEIGHTS = (paths.BEST_WEIGHTS, paths.LAST_WEIGHTS)


def router(ctx: ApiContext) -> APIRouter:
    """The run routes: they read the outputs folder, and the states of the runs' jobs."""
    routes = APIRouter()

    @routes.get("/runs", summary="Every training run on disk, with its best metrics")
    def runs() -> list[dict]:
        refresh(ctx.settings)  # a run whose worker died shows as failed
        found = list_runs(ctx.settings)
        rows = runs_table(found, run_states(ctx.settings))
        return [
            {**row, "run": r.name, "run_dir": str(r.path), "weights": [w.name for w in r.weights]}
            for row, r in zip(rows, found, strict=True)
        ]

    @routes.get(
        "/runs/{project}/{experiment}/weights/{name}",
        summary="Download a run's best.pt or last.pt",
        response_class=FileResponse,
    )
    def weights(project: str, experiment: str, name: str) -> FileResponse:
        if name not in WEIGHTS:
            raise ApiError(400, "bad_field", f"name={name!r}; use best.pt or last.pt.")
        run = next((r for r in list_runs(ctx.settings) if r.name == f"{project}/{experiment}"), None)
        if run is None:
            raise ApiError(404, "unknown_id", f"no run {project}/{experiment}; see GET {PREFIX}/runs.")
        path = RunFolder(run.path).weights / name
        if not path.is_file():
            raise ApiError(404, "no_file", f"run {run.name} has no weights/{name} (yet).")
        return FileResponse(path, media_type="application/octet-stream", filename=f"{experiment}_{name}")

    @routes.post("/model/visualize", summary="Export a run's charts: PNGs and a self-contained report.html")
    def visualize(body: VisualizeRequest) -> dict:
        run = find_run(body.model_path, ctx.settings)
        export = export_visualizations(run, ctx.settings, **{flag: getattr(body, flag) for flag in FLAGS})
        return {"run": run.name, "output_dir": str(export.folder), "files": export.files, "skipped": export.skipped}

    return routes
