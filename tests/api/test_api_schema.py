"""Schemathesis fuzzes every operation of the API's own OpenAPI schema: no input may give a 500.

The API runs in process on an outputs root whose only dataset root is empty, and a job that looks
like a running training of this process holds the CPU, so whatever the fuzzer submits stays queued.
"""

from __future__ import annotations

import os
import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from mlcore.api.app import create_api
from mlcore.core.settings import load_settings
from tests.run_fixture import occupy_the_cpu


def _api():
    outputs = tempfile.mkdtemp(prefix="ml-studio-api-schema-")
    roots = os.path.join(outputs, "datasets")
    os.makedirs(roots, exist_ok=True)
    studio = load_settings({**os.environ, "ML_STUDIO_OUTPUTS": outputs, "ML_STUDIO_DATASET_ROOTS": roots})
    occupy_the_cpu(studio)
    return create_api(studio)


schema = schemathesis.openapi.from_asgi("/openapi.json", _api())


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gives_a_server_error(case) -> None:
    if case.path.endswith("/cancel") or case.path.endswith("/stop"):
        case.path_parameters = {k: "no-such-job" for k in case.path_parameters}  # never this process's own job
    case.call_and_validate(checks=[not_a_server_error])
