"""Registering a model: a finished run's weights (or a trusted .pt) copied into a new version, with its
lineage, classes and deployment profile, and mirrored to MLflow's registry when the bridge is on.

    version = register_model("trainings/logos/v2", "logo-detector", settings, user="ana", reason="more data")
"""

from __future__ import annotations

from pathlib import Path

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import trusted_model
from mlcore.core.settings import Settings
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.store import jobs_of
from mlcore.predict.profile import ProfileError, profile_path, read_profile
from mlcore.registry.lineage import lineage_of, run_of
from mlcore.registry.store import RegistryError, Version, check_name, read_model, record_mlflow, register
from mlcore.storage.push import push_results
from mlcore.tracking.registry import register_version


def _weights(text: str, settings: Settings) -> Path:
    """The weights a registration takes: a run folder's best.pt, or the .pt named."""
    text = (text or "").strip()
    if not text:
        raise RegistryError("no run given; name a run folder (or project/experiment) or a weights file.")
    for folder in (Path(text), settings.outputs_root / paths.TRAININGS_DIR / text):
        if (folder / paths.CONFIG_FILE).is_file():
            best = folder / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS
            if not best.is_file():
                raise RegistryError(
                    f"the run {folder.name} has no {paths.WEIGHTS_DIR}/{paths.BEST_WEIGHTS} yet: it has not finished "
                    "an epoch. Register it once it has weights."
                )
            text = str(best)
            break
    try:
        return trusted_model(text, settings)
    except SubmitError as exc:
        raise RegistryError(str(exc)) from None


def _still_training(run: Path, settings: Settings) -> bool:
    return any(j.run_dir == str(run) and not j.state.is_final() for j in jobs_of(settings, JobKind.TRAINING))


def register_model(text: str, name: str, settings: Settings, user: str = "local", reason: str = "") -> Version:
    """A new version of `name` from the run or weights `text`; RegistryError with what to do when it cannot be."""
    check_name(name)
    weights = _weights(text, settings)
    run = run_of(weights)
    if run is not None and _still_training(run, settings):
        raise RegistryError(
            f"the run {run.parent.name}/{run.name} is still training; register it when it has finished, or Stop it "
            "(its weights are kept) and register then."
        )
    lineage = lineage_of(weights, settings)
    try:
        profile = profile_path(weights, settings) if read_profile(weights, settings) is not None else None
    except ProfileError:
        profile = None  # a damaged profile is not carried over; the version has none
    version = register(
        settings, weights, name, user, reason, lineage.get("dataset", {}).get("names", {}), lineage, profile
    )
    tags = {"sha256": version.sha256, "registered_by": user, "source": str(weights)}
    copy = read_model(settings, name).weights(version)
    push_results(copy.parent, "registry", settings)  # the version's folder, when results go to a bucket
    record_mlflow(settings, name, version.number, register_version(settings, name, version.number, copy, run, tags))
    return version
