"""Dataset validation: start a check (answering when it ends or after `wait` seconds), then poll it by id."""

from __future__ import annotations

from fastapi import APIRouter, Query

from mlcore.api.bodies import DatasetValidateRequest
from mlcore.api.context import ApiContext, dataset_path
from mlcore.api.errors import ApiError, StudioJSONResponse, refusal
from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
from mlcore.datasets.validation.options import ValidationOptions


def router(ctx: ApiContext) -> APIRouter:
    """The dataset validation routes; the checks run in ctx.checks' background thread."""
    routes = APIRouter()

    @routes.post("/dataset/validate", summary="Validate a YOLO dataset (never modifies it)")
    def validate_dataset(
        body: DatasetValidateRequest,
        wait: float = Query(10.0, ge=0, le=60, description="Seconds to wait for the report before answering 202."),  # noqa: B008
    ) -> StudioJSONResponse:
        try:
            path = resolve_user_path(dataset_path(body.dataset_path, ctx.settings), ctx.settings.dataset_roots)
            options = ValidationOptions.from_dict(body.model_dump())  # dataset_path is not an option
        except (PathNotAllowed, ValueError) as exc:
            raise refusal(exc) from None
        started = ctx.checks.start(path, options).id
        if (check := ctx.checks.wait(started, wait)) is None:  # forgotten meanwhile: too many checks at once
            raise ApiError(404, "unknown_id", f"no validation {started!r} (ids live until the API restarts).")
        return StudioJSONResponse(check.to_dict(), status_code=202 if check.status == "running" else 200)

    @routes.get("/dataset/validate/{validation_id}", summary="A dataset validation's progress, and its report")
    def dataset_validation(validation_id: str) -> dict:
        check = ctx.checks.get(validation_id)
        if check is None:
            raise ApiError(404, "unknown_id", f"no validation {validation_id!r} (ids live until the API restarts).")
        return check.to_dict()

    return routes
