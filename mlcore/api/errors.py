"""How the API refuses and answers: ApiError, the mapping of the studio's own exceptions onto it, and the
JSON response class that writes NaN and infinities as null."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi.responses import JSONResponse

from mlcore.compare.pairing import ComparisonError
from mlcore.core.errors import InvalidTransition, JobNotFound, NotYourJob, SubmitError
from mlcore.core.safe_paths import PathNotAllowed
from mlcore.core.spec import SpecError
from mlcore.pipelines.submit import PipelineNotFound
from mlcore.registry.promotion import GateRefused
from mlcore.registry.store import RegistryError, RegistryNotFound
from mlcore.tuning.submit import StudyNotFound

REFUSED = (
    JobNotFound,
    NotYourJob,
    InvalidTransition,
    SpecError,
    PathNotAllowed,
    SubmitError,
    RegistryError,
    ComparisonError,
)


class ApiError(Exception):
    """A request the studio refuses: its HTTP status, a short code and the message for the caller."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def refusal(exc: Exception) -> ApiError:
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
    if isinstance(exc, GateRefused):
        checks = "; ".join(f"{c.name} {'passed' if c.passed else 'failed'} ({c.detail})" for c in exc.checks)
        return ApiError(409, "gate_refused", f"{text} Checks: {checks}")
    if isinstance(exc, StudyNotFound):
        return ApiError(404, "unknown_study", text)
    if isinstance(exc, PipelineNotFound):
        return ApiError(404, "unknown_pipeline", text)
    if isinstance(exc, RegistryNotFound):
        return ApiError(404, "unknown_model", text)
    return ApiError(400, "refused", text)


def finite(value: Any) -> Any:
    """`value` with NaN and infinities as null: JSON has no such numbers (an epoch that found nothing has them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    """Pydantic's error details with anything that is not JSON (e.g. exception objects) as text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class StudioJSONResponse(JSONResponse):
    """JSON answers, with NaN and infinities written as null."""

    def render(self, content: Any) -> bytes:
        return json.dumps(finite(content), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
