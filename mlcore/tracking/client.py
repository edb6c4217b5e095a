"""The studio's connection to MLflow: the tracking URI it logs to, and a client made only after MLflow's
environment is set (telemetry off, no retries, short HTTP timeouts). mlflow is imported here, lazily.

    uri = tracking_uri(settings)          # '' when the bridge is off: never import mlflow then
    client = open_client(uri)
    experiment = experiment_id(client, "logos", uri)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mlcore.core.settings import PROJECT_ROOT, Settings, put_environment

TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true"}  # read once, at `import mlflow`
QUICK_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",  # MLflow's default, 7 with backoff, waits minutes for a dead server
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",  # seconds per request (default 120); the user's own values win
}
ARTIFACTS_BESIDE_DB = "mlruns"  # a sqlite store's artifacts: next to the database, not in the worker's cwd
SQLITE = "sqlite:///"


def tracking_uri(settings: Settings) -> str:
    """The MLflow URI of the settings ('' = off), with a relative sqlite path made absolute against the
    checkout (as the studio resolves its other relative paths): workers run inside their run folders."""
    uri = settings.mlflow_uri.strip()
    if uri.startswith(SQLITE) and uri != SQLITE and not uri[len(SQLITE) :].startswith("/"):
        return SQLITE + str(PROJECT_ROOT / uri[len(SQLITE) :])
    return uri


def redacted(uri: str) -> str:
    """`uri` without a user name or password, fit for a file or a log line."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def open_client(uri: str) -> Any:
    """An MlflowClient for tracking and the model registry at `uri`."""
    put_environment(TELEMETRY_OFF)
    put_environment(QUICK_HTTP, replace=False)
    _create_sqlite_store(uri)
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _sqlite_database(uri: str) -> Path | None:
    if not uri.startswith(SQLITE) or uri == SQLITE:
        return None
    return Path(uri[len(SQLITE) :].split("?")[0])


def _create_sqlite_store(uri: str) -> None:
    """Create a missing sqlite store with its artifacts beside it: MLflow would point its Default experiment
    at ./mlruns of whatever folder the process runs in (a worker runs inside its run folder)."""
    database = _sqlite_database(uri)
    if database is None or database.exists():
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    database.parent.mkdir(parents=True, exist_ok=True)
    SqlAlchemyStore(uri, (database.parent / ARTIFACTS_BESIDE_DB).as_uri())


def artifact_location(uri: str, experiment: str) -> str | None:
    """Where a new experiment of a sqlite store keeps its artifacts: mlruns/{experiment}/ beside the
    database (None for a server or another database: it decides)."""
    database = _sqlite_database(uri)
    if database is None:
        return None
    return (database.parent / ARTIFACTS_BESIDE_DB / re.sub(r"[^\w.-]", "_", experiment)).as_uri()


def experiment_id(client: Any, name: str, uri: str) -> str:
    """The id of the experiment called `name`, created if missing (another process may create it at once)."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return str(client.create_experiment(name, artifact_location=artifact_location(uri, name)))
        except Exception:
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == "deleted":
        raise RuntimeError(f"the MLflow experiment {name!r} is deleted; restore it in MLflow or delete it for good")
    return str(experiment.experiment_id)


def describe_failure(action: str, exc: BaseException, uri: str) -> str:
    """One line saying what failed against which server and why (credentials left out)."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    reason = re.sub(r"//[^/@\s]+@", "//***@", reason)[:500]
    return f"{action} at {redacted(uri)} failed: {type(exc).__name__}: {reason}"
