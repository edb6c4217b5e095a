"""A study's folder and its Optuna study: the storage, the sampler and pruner its spec names, its trials.

    folder = StudyFolder.of("logos-lr", settings)
    study = open_study(folder, spec)            # the Optuna study, with the spec's sampler and pruner
    rows = trial_rows(study)                    # number, state, params, value, epochs, run, job

The study lives in Optuna's journal file storage (`journal.log`), which several processes, and the nodes of a
cluster on shared storage, may write at once; SQLite over a network file system may not. Any Optuna tool opens
it with `optuna.load_study(study_name=NAME, storage=JournalStorage(JournalFileBackend(PATH)))`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.paths import RunFolder
from mlcore.core.settings import Settings
from mlcore.tuning.space import baseline
from mlcore.tuning.spec import OBJECTIVES, TuneSpec

# Optuna's trial states as the studio names them
STATE_NAMES = {"RUNNING": "running", "COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "WAITING": "waiting"}
JOB_ATTR, RUN_ATTR, ERROR_ATTR = "job", "run", "error"  # what each trial records about its training


@dataclass(frozen=True)
class StudyFolder:
    """The files of one study, by name."""

    path: Path

    @classmethod
    def of(cls, study: str, settings: Settings) -> StudyFolder:
        return cls(settings.outputs_root / paths.TUNING_DIR / study)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def journal(self) -> Path:
        return self.path / paths.STUDY_JOURNAL

    @property
    def config(self) -> Path:
        return self.path / paths.TUNE_CONFIG

    @property
    def summary(self) -> Path:
        return self.path / paths.SUMMARY_FILE

    def exists(self) -> bool:
        return self.journal.exists() and self.config.exists()

    def spec(self) -> TuneSpec:
        return TuneSpec.from_dict(yaml.safe_load(self.config.read_text()))


def trial_project(study: str) -> str:
    """The Runs page's project of a study's trials."""
    return f"{paths.TRIAL_PROJECT_PREFIX}{study}"


def storage(folder: StudyFolder) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    folder.path.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(folder.journal)))


def sampler(spec: TuneSpec) -> Any:
    import optuna

    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    return optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=max(1, min(10, (spec.trials or 20) // 3)))


def pruner(spec: TuneSpec) -> Any:
    import optuna

    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, spec.pruner_warmup_epochs), max_resource=spec.epochs)
    return optuna.pruners.MedianPruner(
        n_startup_trials=spec.pruner_startup_trials, n_warmup_steps=spec.pruner_warmup_epochs
    )


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def create_study(folder: StudyFolder, spec: TuneSpec) -> Any:
    """A new study in the folder's journal, with its first trials enqueued: the spec's, else Ultralytics' defaults."""
    import optuna

    quiet_optuna()
    study = optuna.create_study(
        study_name=spec.study, storage=storage(folder), direction="maximize", sampler=sampler(spec), pruner=pruner(spec)
    )
    for values in spec.first_trials or (baseline(spec.parsed_space()),):
        study.enqueue_trial(dict(values))
    return study


def open_study(folder: StudyFolder, spec: TuneSpec | None = None) -> Any:
    """The study of the folder, with the sampler and pruner of its spec (the recorded one by default)."""
    import optuna

    quiet_optuna()
    spec = spec or folder.spec()
    return optuna.load_study(study_name=spec.study, storage=storage(folder), sampler=sampler(spec), pruner=pruner(spec))


def objective_of(row: dict[str, str], objective: str) -> float | None:
    """The objective of one row of results.csv (None when a column is missing or not a number)."""
    total = 0.0
    for column, weight in OBJECTIVES[objective].items():
        try:
            value = float(row[column])
        except (KeyError, TypeError, ValueError):
            return None
        if value != value:  # NaN
            return None
        total += weight * value
    return total


def epoch_objectives(run_dir: Path, objective: str) -> list[tuple[int, float]]:
    """(epoch, objective) for every validated epoch of a run's results.csv, in order."""
    try:
        with open(RunFolder(run_dir).results_csv, newline="") as handle:
            rows = [{k.strip(): v for k, v in row.items() if k} for row in csv.DictReader(handle)]
    except OSError:
        return []
    found = []
    for row in rows:
        value = objective_of(row, objective)
        try:
            epoch = int(float(row.get("epoch", "")))
        except ValueError:
            continue
        if value is not None:
            found.append((epoch, value))
    return found


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """Every trial as the page, the CLI and the API show it."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        rows.append(
            {
                "number": trial.number,
                "state": STATE_NAMES.get(trial.state.name, trial.state.name.lower()),
                "params": dict(trial.params),
                "value": trial.value,
                "epochs": (max(trial.intermediate_values) if trial.intermediate_values else 0),
                "run": attrs.get(RUN_ATTR),
                "job": attrs.get(JOB_ATTR),
                "error": attrs.get(ERROR_ATTR),
                "started": trial.datetime_start.timestamp() if trial.datetime_start else None,
                "ended": trial.datetime_complete.timestamp() if trial.datetime_complete else None,
            }
        )
    return rows


def record_failure(study: Any, number: int, cause: str) -> None:
    """Mark a running trial failed, with why (a trial told already keeps what it was told)."""
    import optuna

    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    study._storage.set_trial_user_attr(trial_id, ERROR_ATTR, cause[:2000])
    try:
        study.tell(number, state=optuna.trial.TrialState.FAIL)
    except (ValueError, RuntimeError):
        pass


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    complete = [r for r in rows if r["state"] == "complete" and r["value"] is not None]
    return max(complete, key=lambda r: r["value"]) if complete else None
