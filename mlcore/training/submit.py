"""Starting trainings in their four modes: what the page, the CLI and the API call, through `start`.

Every check that can fail is made before a process starts, with a message that says what to do:
the dataset must lie under the allowed roots and have no validation error, a base model must come
from a trusted folder, the experiment must not exist yet, the disk must have room, and a run to
continue must hold a checkpoint that can continue. (Stop and Cancel are in `mlcore.jobs.control`.)

    job = start(TrainSpec(mode="full", dataset_path="ml_outputs/datasets/demo"), settings)
    job = start(TrainSpec(mode="extend", resume_from="default/exp-1", epochs=20), settings)  # 20 more
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import yaml

from mlcore.core import paths
from mlcore.core.atomic_file import write_atomically
from mlcore.core.errors import SubmitError
from mlcore.core.paths import CONFIG_FILE, RunFolder
from mlcore.core.safe_paths import PathNotAllowed, nearest_existing, resolve_user_path, trusted_model
from mlcore.core.settings import LOCAL_USER, PROJECT_ROOT, Settings
from mlcore.core.spec import SpecError
from mlcore.datasets.loader import DatasetError
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.validate import validate
from mlcore.engine.checkpoint import CheckpointError, CheckpointInfo, inspect_checkpoint
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import ACTIVE_STATES, Job, JobState, open_store
from mlcore.storage.datasets import dataset_from
from mlcore.training.spec import CONTINUING_MODES, TrainSpec

MIN_FREE_DISK_GB = 1.0


def free_experiment_name(project: str, experiment: str, settings: Settings) -> str:
    """`experiment` if no run has it yet in `project`, else the first free `experiment-2`, `-3`, ..."""
    base = settings.outputs_root / paths.TRAININGS_DIR / project
    if not (base / experiment).exists():
        return experiment
    stem = experiment[:60]
    return next(f"{stem}-{n}" for n in range(2, 10_000) if not (base / f"{stem}-{n}").exists())


def start(spec: TrainSpec, settings: Settings, owner: str = LOCAL_USER, allow_warnings: bool = True) -> Job:
    """Queue a training in any of the four modes, and run a scheduling step.

    full and transfer make a new run from `spec`; resume and extend continue the run named by
    `spec.resume_from` (project/experiment), and for extend `spec.epochs` is how many epochs to add."""
    if spec.mode not in CONTINUING_MODES:
        return submit_training(spec, settings, owner=owner, allow_warnings=allow_warnings)
    run = (spec.resume_from or "").strip()
    if not run:
        raise SpecError(f"mode={spec.mode!r} needs resume_from: the run to continue (project/experiment).")
    if spec.mode == "resume":
        return resume_training(run, settings, owner=owner)
    return extend_training(run, spec.epochs, settings, owner=owner)


def checked_dataset(dataset_path: str, imgsz: int, settings: Settings, allow_warnings: bool = True) -> Path:
    """The dataset's resolved path, after checking it lies under the allowed roots and has no validation error."""
    try:
        dataset = resolve_user_path(dataset_from(dataset_path, settings), settings.dataset_roots, base=PROJECT_ROOT)
    except PathNotAllowed as exc:
        raise SubmitError(str(exc)) from None
    try:
        report = validate(
            dataset, ValidationOptions(near_duplicates=False, imgsz=imgsz), cache_path=settings.image_facts_cache
        )
    except DatasetError as exc:
        raise SubmitError(f"the dataset cannot be read: {exc}") from None
    errors = [i for i in report.issues if i.severity == "error"]
    if errors:
        first = errors[0]
        raise SubmitError(
            f"the dataset has {len(errors)} validation error(s), e.g. {first.code} at "
            f"{first.path}: {first.message} Fix them (see the Dataset validation page) and submit again."
        )
    if not allow_warnings and report.severity_counts()["warning"]:
        raise SubmitError("the dataset has validation warnings; review them on the Dataset validation page.")
    return dataset


def submit_training(spec: TrainSpec, settings: Settings, owner: str = "local", allow_warnings: bool = True) -> Job:
    """Check everything, write training_config.yaml, queue the job, and run a scheduling step."""
    if spec.mode in CONTINUING_MODES:
        raise SubmitError(f"mode={spec.mode!r} continues a run: start it with start(), which names the run.")
    dataset = checked_dataset(spec.dataset_path, spec.imgsz, settings, allow_warnings)
    base_model = str(trusted_model(str(spec.base_model_path), settings)) if spec.mode == "transfer" else None
    experiment = spec.experiment or f"exp-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir = settings.outputs_root / paths.TRAININGS_DIR / spec.project / experiment
    if run_dir.exists():
        raise SubmitError(
            f"experiment '{experiment}' already exists in project '{spec.project}'; pick another name "
            f"(e.g. '{free_experiment_name(spec.project, experiment, settings)}'), or leave it empty for a dated one."
        )
    free_gb = shutil.disk_usage(nearest_existing(settings.outputs_root)).free / 1024**3
    if free_gb < MIN_FREE_DISK_GB:
        raise SubmitError(
            f"only {free_gb:.1f} GiB free under {settings.outputs_root}: a training needs room for "
            "weights and logs; free some space first."
        )
    final = replace(
        spec, dataset_path=str(dataset), experiment=experiment, base_model_path=base_model or spec.base_model_path
    )
    run_dir.mkdir(parents=True)
    (run_dir / CONFIG_FILE).write_text(yaml.safe_dump(final.to_dict(), sort_keys=False))
    return enqueue(settings, JobKind.TRAINING, final.to_dict(), run_dir, owner, made=run_dir)


def _continuable(run: str, settings: Settings) -> tuple[Path, TrainSpec, Path, CheckpointInfo]:
    """The run folder, its spec, its checkpoint and what that says, for resume and extend."""
    trainings = settings.outputs_root / paths.TRAININGS_DIR
    try:
        run_dir = resolve_user_path(run, [trainings], base=trainings, what="run")
    except PathNotAllowed as exc:
        raise SubmitError(f"{exc} Name a run as project/experiment (see `python -m mlcore jobs list`).") from None
    if any(Path(j.run_dir) == run_dir for j in open_store(settings).list(ACTIVE_STATES | {JobState.QUEUED})):
        raise SubmitError(f"{run} is already running or queued.")
    try:
        spec = TrainSpec.from_dict(yaml.safe_load((run_dir / CONFIG_FILE).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise SubmitError(f"{run} has no readable {CONFIG_FILE} ({exc}); it was not started by the studio.") from None
    checkpoint = RunFolder(run_dir).resumable_checkpoint()
    try:
        info = inspect_checkpoint(checkpoint, settings)
    except CheckpointError as exc:
        raise SubmitError(str(exc)) from None
    return run_dir, spec, checkpoint, info


def resume_training(run: str, settings: Settings, owner: str = "local") -> Job:
    """Continue an interrupted run from its checkpoint, into the same folder (results.csv continues)."""
    run_dir, spec, checkpoint, info = _continuable(run, settings)
    if not info.resumable:
        raise SubmitError(
            f"{checkpoint.name} was finalised when the training ended: nothing to resume. To train "
            "more epochs, start a transfer from its weights/best.pt."
        )
    if info.finished:
        raise SubmitError(
            f"the run already finished all {info.epochs} epochs: nothing to resume. To train more "
            f"epochs, extend it: python -m mlcore extend {run} --epochs N"
        )
    resumed = replace(spec, mode="resume", resume_from=str(run_dir))
    return enqueue(settings, JobKind.TRAINING, resumed.to_dict(), run_dir, owner)


def extend_training(run: str, more_epochs: int, settings: Settings, owner: str = "local") -> Job:
    """Train `more_epochs` more epochs on a finished, stopped or interrupted run, in the same folder.

    A true continuation: the worker raises the epoch count inside the run's kept resumable
    checkpoint (weights, EMA, optimizer state, best fitness) and resumes it, so results.csv shows
    both parts as one history and best.pt is replaced only by a better epoch. The learning-rate
    schedule is recomputed for the new total, so the rate rises a little where the extension starts
    instead of restarting with a warm-up.
    """
    if not isinstance(more_epochs, int) or isinstance(more_epochs, bool) or more_epochs < 1:
        raise SubmitError(f"epochs={more_epochs!r}; give how many more epochs to train, at least 1 (e.g. 20).")
    run_dir, spec, checkpoint, info = _continuable(run, settings)
    if not info.resumable:
        raise SubmitError(
            f"{run} kept no resumable checkpoint (its {checkpoint.name} has no optimizer state; the run was "
            "made elsewhere or before the studio kept one). Start a transfer from its weights/best.pt "
            f"with {more_epochs} epochs instead."
        )
    total = info.epoch + 1 + more_epochs
    extended = replace(spec, mode="extend", resume_from=str(run_dir), epochs=total)
    write_atomically(
        run_dir / CONFIG_FILE, yaml.safe_dump(replace(spec, epochs=total).to_dict(), sort_keys=False).encode()
    )
    return enqueue(settings, JobKind.TRAINING, extended.to_dict(), run_dir, owner)
