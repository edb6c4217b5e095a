"""The model registry and A/B comparisons: list and read models, register a run, move aliases through the
promotion gate, archive, download a version's weights, compare two models on one split; and the base models:
pretrained weights added to the trusted models folder (from a server file, the weights mirror, or an upload)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

from mlcore.api.bodies import AliasRequest, ArchiveRequest, BaseModelAddRequest, CompareRequest, ModelRegisterRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.api.errors import ApiError, jsonable
from mlcore.compare.store import list_comparisons, load_comparison
from mlcore.core import paths
from mlcore.engine import base_weights as bw
from mlcore.registry.ab import ComparisonRequest, start_comparison
from mlcore.registry.promotion import set_alias, unset_alias
from mlcore.registry.registration import register_model
from mlcore.registry.store import (
    integrity_problem,
    read_model,
    set_archived,
)
from mlcore.registry.views import lineage_graph, model_document, models_table
from mlcore.storage.push import presigned_url

BASE_STATUS = {  # a refused base model's HTTP answer, by BaseWeightsError.code (others: 400)
    bw.NOT_ON_MIRROR: 404,
    bw.BUSY: 409,
    bw.EXISTS: 409,
    bw.TOO_LARGE: 413,
    bw.NOT_WEIGHTS: 422,
    bw.NOT_A_CHECKPOINT: 422,
    bw.WRONG_TASK: 422,
    bw.UNKNOWN_ARCHITECTURE: 422,
    bw.MIRROR_REFUSED: 502,
    bw.DOWNLOAD_FAILED: 502,
    bw.INTERRUPTED: 502,
    bw.NO_SPACE: 507,
}


def _added(add: Callable[[], bw.BaseWeights]) -> JSONResponse:
    """201 with the base model's document (200 when the same bytes were there already), or the refusal."""
    try:
        base = add()
    except bw.BaseWeightsError as exc:
        raise ApiError(BASE_STATUS.get(exc.code, 400), exc.code, str(exc)) from None
    return JSONResponse(base.to_dict(), status_code=200 if base.already_present else 201)


def router(ctx: ApiContext) -> APIRouter:
    routes = APIRouter()

    @routes.get("/models", summary="Registered models with their versions and aliases")
    def models() -> list[dict]:
        return models_table(ctx.settings)

    @routes.post("/models/register", status_code=201, summary="Register a finished run's weights as a new version")
    def register(body: ModelRegisterRequest) -> dict:
        version = register_model(body.run, body.name, ctx.settings, ctx.actor, body.reason)
        return {"name": body.name, "version": version.number, "sha256": version.sha256, "mlflow": version.mlflow}

    @routes.post("/models/compare", summary="A/B comparison of two models on one split (202 while evaluating)")
    def compare(body: CompareRequest) -> JSONResponse:
        request = ComparisonRequest(
            **{**body.model_dump(), "dataset_path": dataset_path(body.dataset_path, ctx.settings)}
        )
        outcome = start_comparison(request, ctx.settings, ctx.actor)
        if outcome.pending:
            return JSONResponse(
                {
                    "pending": outcome.pending,
                    "detail": "evaluations are queued; POST the same request again when "
                    "they have finished (GET /api/v1/ml/model/validate/{id}).",
                },
                status_code=202,
            )
        return JSONResponse(jsonable(outcome.document))

    @routes.get("/models/comparisons", summary="Every stored comparison, newest first")
    def comparisons() -> list[dict]:
        return [
            {
                "name": c.name,
                "a": c.document["a"]["label"],
                "b": c.document["b"]["label"],
                "verdict": c.document["verdict"],
                "summary": c.document["summary"],
            }
            for c in list_comparisons(ctx.settings)
        ]

    def _comparison_folder(name: str) -> Path:
        folder = ctx.settings.outputs_root / paths.COMPARISONS_DIR / name
        if "/" in name or name.startswith(".") or not (folder / paths.COMPARISON_FILE).is_file():
            raise ApiError(404, "unknown_comparison", f"no comparison is called {name!r}; GET /models/comparisons.")
        return folder

    @routes.get("/models/comparisons/{name}", summary="One comparison: metrics, intervals, verdict")
    def comparison(name: str) -> JSONResponse:
        return JSONResponse(jsonable(load_comparison(_comparison_folder(name))))

    @routes.get(
        "/models/comparisons/{name}/report",
        summary="The comparison's self-contained HTML report",
        response_class=HTMLResponse,
    )
    def report(name: str) -> HTMLResponse:
        return HTMLResponse((_comparison_folder(name) / paths.REPORT_FILE).read_text())

    @routes.get("/models/bases", summary="The base models: pretrained weights added to the trusted models folder")
    def bases() -> list[dict]:
        return [b.to_dict() for b in bw.list_bases(ctx.settings)]

    @routes.post(
        "/models/bases",
        status_code=201,
        summary="Add pretrained weights from a server file or the weights mirror (checked before they are trusted)",
    )
    def add_base(body: BaseModelAddRequest) -> JSONResponse:
        return _added(lambda: bw.add_base(body.source, ctx.settings, body.name or None, by=ctx.actor))

    @routes.post("/models/bases/upload", status_code=201, summary="Add pretrained weights sent as a file (multipart)")
    def upload_base(
        file: UploadFile = File(description="The .pt file."),  # noqa: B008
        name: str = Form("", description="Kept as <name>.pt (default: the uploaded file's name)."),
    ) -> JSONResponse:
        named = name.strip() or Path(file.filename or "").name
        return _added(lambda: bw.add_base(file.file, ctx.settings, named, by=ctx.actor))

    @routes.get("/models/{name}", summary="One model: versions with metrics, lineage and base chains, audit trail")
    def model(name: str) -> dict:
        return model_document(ctx.settings, name)

    @routes.get("/models/{name}/lineage", summary="The lineage as a Graphviz DOT graph")
    def lineage(name: str) -> dict:
        return {"dot": lineage_graph(ctx.settings, name)}

    @routes.post("/models/{name}/aliases", summary="Point an alias at a version (production goes through the gate)")
    def alias(name: str, body: AliasRequest) -> dict:
        set_alias(ctx.settings, name, body.alias, body.version, ctx.actor, body.reason, body.override)
        return model_document(ctx.settings, name)

    @routes.post("/models/{name}/aliases/{alias}/remove", summary="Remove an alias")
    def unalias(name: str, alias: str) -> dict:
        unset_alias(ctx.settings, name, alias, ctx.actor)
        return model_document(ctx.settings, name)

    @routes.post("/models/{name}/versions/{version}/archive", summary="Archive or restore a version")
    def archive(name: str, version: int, body: ArchiveRequest) -> dict:
        set_archived(ctx.settings, name, version, body.archived, ctx.actor, body.reason)
        return model_document(ctx.settings, name)

    @routes.get(
        "/models/{name}/versions/{version}/weights", summary="Download a version's weights", response_class=FileResponse
    )
    def weights(name: str, version: int) -> FileResponse:
        model = read_model(ctx.settings, name)
        chosen = model.version(version)
        if problem := integrity_problem(model, chosen):
            raise ApiError(409, "altered", problem)
        path = model.weights(chosen)
        if link := presigned_url(path, ctx.settings):  # the version lives in a bucket: the client fetches it there
            return RedirectResponse(link, status_code=307)  # type: ignore[return-value]
        return FileResponse(path, filename=f"{name}-v{version}{path.suffix}", media_type="application/octet-stream")

    return routes
