"""The HTTP API: the original system's endpoints over the same functions and job database as the app.

A job started here shows in the app and the command line, and the other way round. Long work runs
in workers (trainings, evaluations) or in a background thread (dataset validation); no request waits
for it longer than it asks to. Bad input gets a 4xx answer with a JSON body: {"detail": what is
wrong and what to do, "error": a short code}.

    uvicorn.run(create_api(load_settings(), token="..."), host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import hmac
import json
import math
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mlcore import __version__, paths
from mlcore.api_bodies import DatasetValidateRequest, ModelValidateRequest, TrainingStartRequest, VisualizeRequest
from mlcore.eval_spec import EvalSpec
from mlcore.evaluation import submit_evaluation
from mlcore.job_report import evaluation_status, training_status
from mlcore.jobs import InvalidTransition, Job, JobNotFound, JobStore
from mlcore.runs import list_runs, run_states, runs_table
from mlcore.safe_paths import PathNotAllowed, resolve_user_path
from mlcore.scheduler import log_tail, schedule
from mlcore.settings import LOCAL_USER, Settings
from mlcore.system_status import collect_status
from mlcore.torch_probe import TorchProbe, probe_torch
from mlcore.train_spec import SpecError, TrainSpec
from mlcore.training import (
    NotYourJob,
    SubmitError,
    cancel_job,
    extend_training,
    resume_training,
    stop_job,
    submit_training,
)
from mlcore.validation import ValidationOptions
from mlcore.validation_tasks import DatasetChecks
from mlcore.visualization_export import FLAGS, export_visualizations, find_run

PREFIX = "/api/v1/ml"
API_USER = "api"  # the audit trail's name for callers with the API token
WEIGHTS = ("best.pt", "last.pt")
PROBE_KEEP_S = 60.0


class ApiError(Exception):
    """A request the studio refuses: its HTTP status, a short code and the message for the caller."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def finite(value: Any) -> Any:
    """`value` with NaN and infinities as null: JSON has no such numbers (an epoch that found nothing has them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


class StudioJSONResponse(JSONResponse):
    """JSON answers, with NaN and infinities written as null."""

    def render(self, content: Any) -> bytes:
        return json.dumps(finite(content), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _refusal(exc: Exception) -> ApiError:
    """The answer for an exception of the studio's own functions."""
    text = str(exc).strip('"')
    if isinstance(exc, JobNotFound):
        return ApiError(404, "unknown_id", text)
    if isinstance(exc, NotYourJob):
        return ApiError(403, "not_your_job", text)
    if isinstance(exc, InvalidTransition):
        return ApiError(409, "wrong_state", text)
    if isinstance(exc, SpecError):
        return ApiError(422, "bad_field", text)
    if isinstance(exc, PathNotAllowed):
        return ApiError(400, "bad_path", text)
    return ApiError(400, "refused", text)


REFUSED = (JobNotFound, NotYourJob, InvalidTransition, SpecError, PathNotAllowed, SubmitError)


def dataset_path(text: str, settings: Settings) -> str:
    """A relative path is looked up in the dataset roots in order ("demo" is <outputs>/datasets/demo)."""
    raw = text.strip()
    if raw and "\x00" not in raw and not Path(raw).expanduser().is_absolute():
        for root in settings.dataset_roots:
            try:
                if (root / raw).exists():
                    return str(root / raw)
            except (OSError, ValueError):
                continue
    return raw


class TorchProbeCache:
    """The PyTorch probe takes seconds (a child process imports torch): scripts polling the status get
    the answer of the last minute."""

    def __init__(self, settings: Settings, keep_s: float = PROBE_KEEP_S) -> None:
        self._settings, self._keep_s = settings, keep_s
        self._lock = threading.Lock()
        self._answer: tuple[float, TorchProbe] | None = None

    def get(self) -> TorchProbe:
        with self._lock:
            if self._answer is None or time.monotonic() - self._answer[0] > self._keep_s:
                self._answer = (time.monotonic(), probe_torch(self._settings))
            return self._answer[1]


def create_api(settings: Settings, token: str | None = None, cors_origins: tuple[str, ...] = ()) -> FastAPI:
    """The API app. With `token`, every /api request needs `Authorization: Bearer <token>`."""
    checks = DatasetChecks(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        checks.shutdown()

    api = FastAPI(
        lifespan=lifespan,
        default_response_class=StudioJSONResponse,
        title="ML Studio API",
        version=__version__,
        description="Validate YOLO datasets, train and evaluate YOLOv8 models, export charts. The same jobs as "
        "the ML Studio app and `python -m mlcore`.",
    )
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    actor = API_USER if token else LOCAL_USER
    bearer = HTTPBearer(auto_error=False, description="The API token (ML_STUDIO_API_TOKEN).")

    def authorised(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        if token is None:
            return
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(401, "unauthorised", "a valid API token is needed: send 'Authorization: Bearer <token>'.")

    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        api.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])  # fmt: skip

    @api.exception_handler(ApiError)
    async def refused(_: Request, exc: ApiError) -> StudioJSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return StudioJSONResponse({"detail": exc.detail, "error": exc.code}, status_code=exc.status, headers=headers)

    async def studio_refused(request: Request, exc: Exception) -> StudioJSONResponse:
        return await refused(request, _refusal(exc))

    for kind in REFUSED:
        api.add_exception_handler(kind, studio_refused)

    @api.exception_handler(RequestValidationError)
    async def malformed(_: Request, exc: RequestValidationError) -> StudioJSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            for e in exc.errors()
        ]
        return StudioJSONResponse(
            {"detail": "; ".join(problems) or "the request is malformed", "error": "bad_field",
             "fields": jsonable(exc.errors())},
            status_code=422,
        )  # fmt: skip

    router = APIRouter(prefix=PREFIX, dependencies=[Depends(authorised)])

    probe = TorchProbeCache(settings)

    @router.get("/status", summary="System status: CPU, memory, disk, GPUs, PyTorch, jobs")
    def status(torch: bool = Query(True, description="Include the PyTorch probe (kept for a minute).")) -> dict:  # noqa: B008
        return collect_status(settings, include_torch=False, torch=probe.get() if torch else None).to_dict()

    @router.post("/dataset/validate", summary="Validate a YOLO dataset (never modifies it)")
    def validate_dataset(
        body: DatasetValidateRequest,
        wait: float = Query(10.0, ge=0, le=60, description="Seconds to wait for the report before answering 202."),  # noqa: B008
    ) -> StudioJSONResponse:
        try:
            path = resolve_user_path(dataset_path(body.dataset_path, settings), settings.dataset_roots)
            options = ValidationOptions.from_dict(body.model_dump())  # dataset_path is not an option
        except (PathNotAllowed, ValueError) as exc:
            raise _refusal(exc) from None
        check = checks.wait(checks.start(path, options).id, wait)
        return StudioJSONResponse(check.to_dict(), status_code=202 if check.status == "running" else 200)

    @router.get("/dataset/validate/{validation_id}", summary="A dataset validation's progress, and its report")
    def dataset_validation(validation_id: str) -> dict:
        check = checks.get(validation_id)
        if check is None:
            raise ApiError(404, "unknown_id", f"no validation {validation_id!r} (ids live until the API restarts).")
        return check.to_dict()

    @router.post("/training/start", status_code=202, summary="Queue a training (full, transfer, resume, extend)")
    def start_training(body: TrainingStartRequest) -> dict:
        fields = body.model_dump(exclude_unset=True)
        if body.mode in ("resume", "extend"):
            run = (body.resume_from or "").strip()
            if not run:
                raise SpecError(f"mode={body.mode!r} needs resume_from: the run to continue (project/experiment).")
            if body.mode == "resume":
                job = resume_training(run, settings, owner=actor)
            else:
                job = extend_training(run, body.epochs, settings, owner=actor)
        else:
            fields["dataset_path"] = dataset_path(body.dataset_path, settings)
            job = submit_training(TrainSpec.from_dict(fields), settings, owner=actor)
        return training_status(job, store)  # it leads with training_id

    @router.get("/training/status", summary="Every training")
    def trainings() -> list[dict]:
        schedule(settings)
        return [training_status(j, store) for j in store.list(kind="training")]

    @router.get("/training/status/{training_id}", summary="One training: status, progress (%), epoch, metrics")
    def training(training_id: str) -> dict:
        schedule(settings)  # the API is one of the callers that advance the queue
        return training_status(_job(training_id, "training"), store)

    @router.post("/training/{training_id}/stop", summary="Stop after the current batch, keeping the weights")
    def stop(training_id: str) -> dict:
        _job(training_id, "training")
        return training_status(stop_job(training_id, settings, actor=actor), store)

    @router.post("/training/{training_id}/cancel", summary="Cancel now (queued or running)")
    def cancel(training_id: str) -> dict:
        _job(training_id, "training")
        return training_status(cancel_job(training_id, settings, actor=actor), store)

    @router.get("/training/{training_id}/log", summary="The last lines of a training's log")
    def training_log(training_id: str, lines: int = Query(100, ge=1, le=5000)) -> dict:  # noqa: B008
        job = _job(training_id, "training")
        return {"training_id": job.id, "log": log_tail(job.run_dir, lines)}

    @router.get("/runs", summary="Every training run on disk, with its best metrics")
    def runs() -> list[dict]:
        found = list_runs(settings)
        rows = runs_table(found, run_states(settings))
        return [
            {**row, "run": r.name, "run_dir": str(r.path), "weights": [w.name for w in r.weights]}
            for row, r in zip(rows, found, strict=True)
        ]

    @router.get("/runs/{project}/{experiment}/weights/{name}", summary="Download a run's best.pt or last.pt",
                response_class=FileResponse)  # fmt: skip
    def weights(project: str, experiment: str, name: str) -> FileResponse:
        if name not in WEIGHTS:
            raise ApiError(400, "bad_field", f"name={name!r}; use best.pt or last.pt.")
        run = next((r for r in list_runs(settings) if r.name == f"{project}/{experiment}"), None)
        if run is None:
            raise ApiError(404, "unknown_id", f"no run {project}/{experiment}; see GET {PREFIX}/runs.")
        path = run.path / "weights" / name
        if not path.is_file():
            raise ApiError(404, "no_file", f"run {run.name} has no weights/{name} (yet).")
        return FileResponse(path, media_type="application/octet-stream", filename=f"{experiment}_{name}")

    @router.post("/model/visualize", summary="Export a run's charts: PNGs and a self-contained report.html")
    def visualize(body: VisualizeRequest) -> dict:
        run = find_run(body.model_path, settings)
        export = export_visualizations(run, settings, **{flag: getattr(body, flag) for flag in FLAGS})
        return {"run": run.name, "output_dir": str(export.folder), "files": export.files, "skipped": export.skipped}

    @router.post("/model/validate", status_code=202, summary="Queue an evaluation of a model on a dataset split")
    def validate_model(body: ModelValidateRequest) -> dict:
        fields = body.model_dump()
        fields["test_dataset_path"] = dataset_path(body.test_dataset_path, settings)
        job = submit_evaluation(EvalSpec.from_dict(fields), settings, owner=actor)
        return evaluation_status(job, store)  # it leads with evaluation_id

    @router.get("/model/validate", summary="Every evaluation")
    def evaluations() -> list[dict]:
        schedule(settings)
        return [evaluation_status(j, store) for j in store.list(kind="evaluation") if j.spec.get("task") == "evaluate"]

    @router.get("/model/validate/{evaluation_id}", summary="One evaluation: status, progress, and metrics when done")
    def evaluation(evaluation_id: str) -> dict:
        schedule(settings)
        return evaluation_status(_job(evaluation_id, "evaluation"), store)

    @router.post("/model/validate/{evaluation_id}/cancel", summary="Cancel an evaluation")
    def cancel_evaluation(evaluation_id: str) -> dict:
        _job(evaluation_id, "evaluation")
        return evaluation_status(cancel_job(evaluation_id, settings, actor=actor), store)

    def _job(job_id: str, kind: str) -> Job:
        try:
            job = store.get(job_id)
        except JobNotFound:
            job = None
        if job is None or job.kind != kind:
            listing = "training/status" if kind == "training" else "model/validate"
            raise ApiError(404, "unknown_id", f"no {kind} {job_id!r}; see GET {PREFIX}/{listing}.")
        return job

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


def jsonable(value: Any) -> Any:
    """Pydantic's error details with anything that is not JSON (e.g. exception objects) as text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
