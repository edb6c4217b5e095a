"""The HTTP API: the original system's endpoints over the same functions and job database as the app.

A job started here shows in the app and the command line, and the other way round. Long work runs
in workers (trainings, evaluations) or in a background thread (dataset validation); no request waits
for it longer than it asks to. Bad input gets a 4xx answer with a JSON body: {"detail": what is
wrong and what to do, "error": a short code}. The routes live in mlcore.api.routes; this module wires them.

    uvicorn.run(create_api(load_settings(), token="..."), host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mlcore import __version__
from mlcore.api.access_log import has_credentials, install_access_log_filter
from mlcore.api.context import PREFIX, ApiContext, TorchProbeCache
from mlcore.api.errors import REFUSED, ApiError, StudioJSONResponse, jsonable, refusal
from mlcore.api.routes import (
    dataset_versions,
    datasets,
    evaluation,
    explain,
    export,
    models,
    pipelines,
    predict,
    quality,
    runs,
    status,
    storage,
    tracks,
    training,
    tuning,
)
from mlcore.core.settings import LOCAL_USER, Settings
from mlcore.datasets.validation.tasks import DatasetChecks
from mlcore.jobs.store import open_store
from mlcore.predict.client import PredictorClient

API_USER = "api"  # the audit trail's name for callers with the API token


async def refused(_: Request, exc: ApiError) -> StudioJSONResponse:
    """An ApiError as {"detail", "error"}; a 401 also says which scheme to use."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else exc.headers
    return StudioJSONResponse({"detail": exc.detail, "error": exc.code}, status_code=exc.status, headers=headers)


async def studio_refused(request: Request, exc: Exception) -> StudioJSONResponse:
    """A refusal of the studio's own functions (unknown job, wrong state, bad spec, bad path...)."""
    return await refused(request, refusal(exc))


async def malformed(_: Request, exc: RequestValidationError) -> StudioJSONResponse:
    """A body or query that does not fit the schema: one line per problem, and Pydantic's details."""
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}" for e in exc.errors()
    ]
    return StudioJSONResponse(
        {
            "detail": "; ".join(problems) or "the request is malformed",
            "error": "bad_field",
            "fields": jsonable(exc.errors()),
        },
        status_code=422,
    )


def create_api(settings: Settings, token: str | None = None, cors_origins: tuple[str, ...] = ()) -> FastAPI:
    """The API app. With `token`, every /api request needs `Authorization: Bearer <token>`."""
    checks = DatasetChecks(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        checks.shutdown()
        ctx.predictor.close()

    api = FastAPI(
        lifespan=lifespan,
        default_response_class=StudioJSONResponse,
        title="ML Studio API",
        version=__version__,
        description="Validate YOLO datasets, train and evaluate YOLOv8 models, export charts. The same jobs as "
        "the ML Studio app and `python -m mlcore`.",
    )
    ctx = ApiContext(
        settings=settings,
        store=open_store(settings),
        actor=API_USER if token else LOCAL_USER,
        checks=checks,
        probe=TorchProbeCache(settings),
        predictor=PredictorClient(settings),
    )
    bearer = HTTPBearer(auto_error=False, description="The API token (ML_STUDIO_API_TOKEN).")

    def authorised(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        if token is None:
            return
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            hint = ""
            if not given and has_credentials(list(request.query_params)):
                hint = " A token in the URL is never accepted (URLs end up in logs and browser histories)."
            raise ApiError(
                401, "unauthorised", f"a valid API token is needed: send 'Authorization: Bearer <token>'.{hint}"
            )

    install_access_log_filter(token)  # a token sent in a URL anyway stays out of the access log

    if cors_origins:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )

    # Starlette types every handler for Exception; each of these is registered for its own class only.
    api.add_exception_handler(ApiError, refused)  # type: ignore[arg-type]
    for kind in REFUSED:
        api.add_exception_handler(kind, studio_refused)
    api.add_exception_handler(RequestValidationError, malformed)  # type: ignore[arg-type]

    router = APIRouter(prefix=PREFIX, dependencies=[Depends(authorised)])
    for domain in (
        status,
        datasets,
        dataset_versions,
        training,
        runs,
        evaluation,
        tuning,
        pipelines,
        quality,
        export,
        predict,
        explain,
        tracks,
        models,
        storage,
    ):  # this order is the OpenAPI schema's
        router.include_router(domain.router(ctx))
    api.include_router(router)

    @api.get("/ui/ml", include_in_schema=False)
    def ui(request: Request) -> RedirectResponse:
        """The original system served its UI here: send the browser to the app."""
        target = settings.app_url or f"{request.url.scheme}://{request.url.hostname}:{settings.port}/"
        return RedirectResponse(target, status_code=307)

    @api.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/docs", status_code=307)

    return api
