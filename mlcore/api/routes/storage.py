"""Object storage over HTTP, as `python -m mlcore storage ...`: the configured locations (never a credential), whether
each can be listed, a dataset pulled from a bucket into the cache, and the cache's size and trimming."""

from __future__ import annotations

from fastapi import APIRouter, Query

from mlcore.api.bodies import StoragePullRequest, StorageTrimRequest
from mlcore.api.context import ApiContext
from mlcore.api.errors import ApiError
from mlcore.datasets.loader import DatasetError, load_dataset
from mlcore.storage.cache import cache_usage, trim_cache
from mlcore.storage.check import check_locations, location_rows
from mlcore.storage.pull import pull


def router(ctx: ApiContext) -> APIRouter:
    """The storage routes; trimming the cache is for administrators."""
    routes = APIRouter()
    settings = ctx.settings

    @routes.get("/storage/locations", summary="The configured storage locations (endpoint, bucket, prefix)")
    def locations() -> list[dict]:
        return location_rows(settings)

    @routes.get("/storage/check", summary="Whether each location can be listed with this server's credentials")
    def check(location: str | None = Query(None, description="Only this location.")) -> list[dict]:  # noqa: B008
        return check_locations(settings, location)

    @routes.post("/storage/pull", summary="Pull a dataset from a bucket into the cache (only what changed)")
    def pull_dataset(body: StoragePullRequest) -> dict:
        pulled = pull(body.url, settings)
        try:
            load_dataset(pulled.path, settings.dataset_roots)
        except DatasetError as exc:
            raise ApiError(
                422, "not_a_dataset", f"{pulled.url} was pulled to {pulled.path} but holds no YOLO dataset: {exc}"
            ) from None
        return pulled.to_dict()

    @routes.get("/storage/cache", summary="What the pull cache holds: objects, bytes, unused ones, pulled datasets")
    def cache() -> dict:
        return cache_usage(settings)

    @routes.post("/storage/cache/trim", summary="Forget pulled datasets, then remove the objects none uses (admins)")
    def trim(body: StorageTrimRequest) -> dict:
        if ctx.actor not in settings.admins:
            raise ApiError(403, "not_admin", "trimming the shared cache is for administrators (ML_STUDIO_ADMINS).")
        return {"trimmed": trim_cache(settings, body.forget), "usage": cache_usage(settings)}

    return routes
