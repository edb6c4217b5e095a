"""Registered models in MLflow, for the studio's registry to mirror its versions and aliases there.

Each function returns what the registry stores: {"model_version": "<MLflow version>"} or
{"error": "<message>"} (it never raises), or None when the bridge is off (mlflow is not imported).

    register_version(settings, "logos", 3, Path(".../weights/best.pt"), run_dir, {"sha256": digest})
    set_alias(settings, "logos", "champion", 3)
    delete_alias(settings, "logos", "challenger")

Ultralytics logs no MLflow Model (no MLmodel, no pyfunc flavour), so a version is a plain model version
whose source is the weights file logged as an artifact: to the training's own MLflow run when its run
folder has a record on the same server, else to a new run in "ml-studio-registry". MLflow versions are
found by their tag studio_version=v{n}; registering the same studio version twice returns the first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlcore.core.settings import Settings
from mlcore.tracking.client import describe_failure, experiment_id, open_client, tracking_uri
from mlcore.tracking.names import metric_name
from mlcore.tracking.record import recorded_run

EXPERIMENT = "ml-studio-registry"
VERSION_TAG = "studio_version"
ARTIFACT_DIR = "registry"  # in the run's artifacts: registry/{name}/v{n}/{weights file}


def studio_tag(version: int) -> str:
    return f"v{version}"


def _answer(settings: Settings, action: str, work: Callable[[Any, str], str | None]) -> dict[str, Any] | None:
    uri = tracking_uri(settings)
    if not uri:
        return None
    try:
        return {"model_version": work(open_client(uri), uri)}
    except Exception as exc:
        return {"error": describe_failure(action, exc, uri)}


def find_version(client: Any, name: str, version: int) -> Any | None:
    """The MLflow version of `name` tagged studio_version=v{version}, if any."""
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    found = client.search_model_versions(f"name = '{escaped}'")
    tagged = [v for v in found if v.name == name and (v.tags or {}).get(VERSION_TAG) == studio_tag(version)]
    return min(tagged, key=lambda v: int(v.version)) if tagged else None


def register_version(
    settings: Settings, name: str, version: int, weights: Path, run_dir: Path | None, tags: dict[str, str]
) -> dict[str, Any] | None:
    """Register the weights as an MLflow version of `name`, tagged studio_version=v{version} and `tags`."""

    def work(client: Any, uri: str) -> str:
        from mlflow.exceptions import MlflowException

        try:
            client.create_registered_model(name, tags={"mlflow.source.name": "ml-studio"})
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        existing = find_version(client, name, version)
        if existing is not None:
            return str(existing.version)
        run_id = recorded_run(run_dir, uri) if run_dir else None
        own_run = run_id is None
        if own_run:
            experiment = experiment_id(client, EXPERIMENT, uri)
            run_id = client.create_run(experiment, run_name=f"{name}-v{version}").info.run_id
        folder = f"{ARTIFACT_DIR}/{metric_name(name).replace('/', '_')}/{studio_tag(version)}"
        client.log_artifact(run_id, str(weights), folder)
        if own_run:
            client.set_terminated(run_id, "FINISHED")
        source = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{folder}/{weights.name}"
        all_tags = {**{str(k): str(v) for k, v in tags.items()}, VERSION_TAG: studio_tag(version)}
        created = client.create_model_version(name, source, run_id=run_id, tags=all_tags)
        return str(created.version)

    return _answer(settings, f"registering {name} v{version} in MLflow", work)


def set_alias(settings: Settings, name: str, alias: str, version: int) -> dict[str, Any] | None:
    """Point the MLflow alias of `name` at the version tagged studio_version=v{version}."""

    def work(client: Any, uri: str) -> str:
        found = find_version(client, name, version)
        if found is None:
            raise LookupError(f"no MLflow version of {name!r} is tagged {VERSION_TAG}={studio_tag(version)}")
        client.set_registered_model_alias(name, alias, found.version)
        return str(found.version)

    return _answer(settings, f"setting the alias {alias!r} of {name} in MLflow", work)


def delete_alias(settings: Settings, name: str, alias: str) -> dict[str, Any] | None:
    """Remove the MLflow alias of `name`; model_version is the version it pointed to (None: it was not set)."""

    def work(client: Any, uri: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            was = str(client.get_model_version_by_alias(name, alias).version)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        client.delete_registered_model_alias(name, alias)
        return was

    return _answer(settings, f"removing the alias {alias!r} of {name} in MLflow", work)
