"""Reaching a Ray cluster's job server: the dashboard's HTTP API, the release check, the Jobs client.

    check_reachable(address)   # -> the cluster's Ray version, or ClusterUnavailable saying what to do
    client(address)            # ray.job_submission.JobSubmissionClient, imported on first use

Ray's usage statistics are switched off before Ray is imported.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from functools import cache
from importlib import metadata
from typing import Any

from mlcore.core.settings import put_environment

HTTP_TIMEOUT_S = 5.0
RAY_OFFLINE = {"RAY_USAGE_STATS_ENABLED": "0"}  # no usage report to usage-stats.ray.io
REQUIREMENTS_FILE = "requirements-ray.txt"


class ClusterUnavailable(Exception):
    """The Ray cluster cannot take jobs now; the message says what is wrong and what to do."""


def installed_ray() -> str | None:
    """The Ray release installed beside the studio (without importing it); None when there is none."""
    try:
        return metadata.version("ray")
    except metadata.PackageNotFoundError:
        return None


def dashboard_json(address: str, path: str, timeout_s: float = HTTP_TIMEOUT_S) -> Any:
    """GET a JSON document from the cluster's dashboard (the job server); ClusterUnavailable when unreachable."""
    try:
        with urllib.request.urlopen(address + path, timeout=timeout_s) as response:  # noqa: S310 (configured URL)
            return json.loads(response.read())
    except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ClusterUnavailable(
            f"the Ray cluster at {address} cannot be reached ({reason}). Check ML_STUDIO_RAY_ADDRESS (the head "
            "node's job server, e.g. http://head:8265) and that `ray start --head --dashboard-host 0.0.0.0` runs "
            "there; until then jobs run on this machine."
        ) from exc


def check_reachable(address: str) -> str:
    """The cluster's Ray release, after checking that it answers and runs the release installed here."""
    ours = installed_ray()
    if ours is None:
        raise ClusterUnavailable(
            f"ML_STUDIO_RAY_ADDRESS is set ({address}) but Ray is not installed beside the studio: run "
            f"`pip install -r {REQUIREMENTS_FILE}`, or unset the variable to run jobs on this machine."
        )
    answer = dashboard_json(address, "/api/version")
    theirs = str(answer.get("ray_version", "")) if isinstance(answer, dict) else ""
    if not theirs:
        raise ClusterUnavailable(
            f"{address} answers, but not as a Ray job server (no ray_version at /api/version); ML_STUDIO_RAY_ADDRESS "
            "must be the head node's dashboard address, e.g. http://head:8265."
        )
    if theirs != ours:
        raise ClusterUnavailable(
            f"the Ray cluster at {address} runs Ray {theirs}, the studio has Ray {ours}; Ray's job server and its "
            f"client must be the same release. Install ray[default]=={theirs} beside the studio, or run the cluster "
            f"on {ours} (`pip install -r {REQUIREMENTS_FILE}` on every node)."
        )
    return theirs


@cache
def client(address: str) -> Any:
    """The Ray Jobs client for `address` (one per process)."""
    put_environment(RAY_OFFLINE)
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ClusterUnavailable(f"the Ray job server at {address} refused the connection: {exc}") from exc
