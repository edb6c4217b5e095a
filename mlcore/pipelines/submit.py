"""Starting, following, stopping, cancelling and resuming pipelines: what the page, the CLI and the API call.

    job = start_pipeline(Path("examples/pipelines/demo.yaml").read_text(), settings, sets=["train.epochs=5"])
    document = pipeline_document("demo", settings)        # name, state, gate, steps, report, junit
    stop_pipeline("demo", settings)      # the running step finishes; the later steps are skipped
    cancel_pipeline("demo", settings)    # the coordinator and the running step's job end now
    resume_pipeline("demo", settings)    # from the first step not passed

A pipeline is named by its run's folder (demo_20261206-101500-000000) or by its name (the newest run of it).
Everything the file names is checked before anything is queued: the dataset (inside the allowed folders), the
model, the base weights and the model to compare against, every rule and every class a rule names.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.errors import InvalidTransition, JobNotFound, NotYourJob, SubmitError
from mlcore.core.folders import stamped_folder
from mlcore.core.settings import LOCAL_USER, PROJECT_ROOT, Settings
from mlcore.core.spec import SpecError
from mlcore.devices.leases import NO_DEVICE
from mlcore.jobs.control import cancel_job, check_actor, stop_job
from mlcore.jobs.kinds import JobKind, JobTask
from mlcore.jobs.progress import read_progress
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import OPEN_STATES, Job, open_store
from mlcore.pipelines.folder import FAILED, PASSED, PENDING, RUNNING, SKIPPED, PipelineFolder
from mlcore.pipelines.report import CANCELLED_NOTE, GATE_FAILED, PASSED_RUN, outcome, write_report
from mlcore.pipelines.spec import DATASET_VERSION, PipelineError, PipelineSpec
from mlcore.pipelines.steps import JOB_STEPS

EXIT_PASSED, EXIT_GATE_FAILED, EXIT_ERROR = 0, 1, 2


class PipelineNotFound(SubmitError):
    """No pipeline run of that name under the outputs."""


def dataset_text(text: str, settings: Settings, base: Path | None) -> str:
    """The dataset a file names: a version (logos@v3), a path in the studio's outputs (ml_outputs/..., wherever
    ML_STUDIO_OUTPUTS puts them), a path from `base` (the terminal's folder), a dataset's name under the outputs
    (demo), or a path from the project folder."""
    if (version := DATASET_VERSION.match(text)) is not None:
        return str(settings.outputs_root / paths.DATASETS_DIR / version["name"] / version["version"])
    raw = Path(text).expanduser()
    if raw.is_absolute():
        return text
    if raw.parts and raw.parts[0] == paths.OUTPUTS_DIR:
        return str(settings.outputs_root.joinpath(*raw.parts[1:]))
    for root in (base, settings.outputs_root / paths.DATASETS_DIR, PROJECT_ROOT):
        if root is not None and (root / raw).exists():
            return str(root / raw)
    return text


def check_references(spec: PipelineSpec, settings: Settings) -> tuple[str | None, dict[str, str]]:
    """The pipeline's model as an absolute path (None without one), and the other models the file names as the
    worker will read them (a path made absolute; NAME@ALIAS and NAME:N stay as written, so that a resumed run
    reads the registry as it is then). A SubmitError when a model it names is not there."""
    from mlcore.registry.references import model_path, names_registered, resolve_reference

    model = model_path(spec.model, settings, False, "a pipeline") if spec.model else None
    resolved: dict[str, str] = {}
    if "train" in spec.step_names and (base := spec.settings("train").get("base_model_path")):
        path = model_path(str(base), settings, True, "a training")
        resolved["base_model_path"] = str(base) if names_registered(str(base)) else path
    if "compare" in spec.step_names:
        against = str(spec.settings("compare")["against"])
        try:
            ref = resolve_reference(against, settings)
        except SubmitError as exc:
            raise SubmitError(
                f"steps.compare.against: {exc} (a first pipeline has nothing to compare with: drop the compare step "
                "and its rules until a version carries that alias)."
            ) from None
        resolved["against"] = against if names_registered(against) else str(ref.path)
    return model, resolved


@contextmanager
def refusing() -> Iterator[None]:
    """What a file can make go wrong, as a refusal with its reason instead of a traceback."""
    try:
        yield
    except (SpecError, SubmitError):
        raise
    except (TypeError, RuntimeError) as exc:  # a mapping of mixed keys, a home folder of no such user
        raise PipelineError(f"the pipeline file cannot be used: {exc}") from None
    except OSError as exc:
        raise SubmitError(f"the pipeline could not be written or read ({exc}); check the outputs folder.") from None


def start_pipeline(
    text: str,
    settings: Settings,
    owner: str = LOCAL_USER,
    sets: list[str] | tuple[str, ...] = (),
    base: Path | None = None,
    source: str = "",
) -> Job:
    """Check the file and everything it names, write the run's folder, and queue its coordinator."""
    with refusing():
        spec, dataset_path, classes = _checked(text, settings, sets, base)
        model, resolved = check_references(spec, settings)
        folder = PipelineFolder(stamped_folder(PipelineFolder.root(settings), spec.name))
        try:
            folder.file.write_text(spec.text)
            facts = {
                "name": spec.name,
                "dataset": str(dataset_path),
                "model": model,
                "resolved": resolved,
                "classes": list(classes),
                "source": source,
                "sets": list(sets),
                "owner": owner,
                "created": time.time(),
            }
            folder.start(spec, facts)
        except BaseException:
            shutil.rmtree(folder.path, ignore_errors=True)
            raise
        return _queue(folder, settings, owner, made=folder.path)


def _checked(
    text: str, settings: Settings, sets: list[str] | tuple[str, ...], base: Path | None
) -> tuple[PipelineSpec, Path, tuple[str, ...]]:
    """The file, its dataset (allowed, readable) and the dataset's classes, every rule checked against them."""
    from mlcore.datasets.loader import usable_split

    spec = PipelineSpec.from_text(text, sets)
    dataset_path, dataset = usable_split(
        dataset_text(spec.dataset, settings, base), settings, what="the pipeline's dataset"
    )
    classes = tuple(dataset.names[k] for k in sorted(dataset.names))
    spec.rules(classes)  # a class no rule may name, now that the dataset is known
    return spec, dataset_path, classes


def _queue(folder: PipelineFolder, settings: Settings, owner: str, made: Path | None = None) -> Job:
    spec = {"task": JobTask.PIPELINE, "device": NO_DEVICE, "pipeline": folder.name}
    return enqueue(settings, JobKind.PIPELINE, spec, folder.path, owner, made=made)


def check_file(
    text: str, settings: Settings, sets: list[str] | tuple[str, ...] = (), base: Path | None = None
) -> PipelineSpec:
    """The checks of start_pipeline, queueing nothing (the page's editor checks the rules as they are typed)."""
    with refusing():
        spec = _checked(text, settings, sets, base)[0]
        check_references(spec, settings)
        return spec


# -- finding runs


def pipeline_runs(settings: Settings) -> list[PipelineFolder]:
    """Every pipeline run under the outputs, newest first."""
    root = PipelineFolder.root(settings)
    found = [PipelineFolder(p) for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    found = [f for f in found if f.exists()]
    return sorted(found, key=PipelineFolder.created, reverse=True)


def find_pipeline(name: str, settings: Settings) -> PipelineFolder:
    """The run named `name` (its folder's name), or the newest run of the pipeline called `name`."""
    runs = pipeline_runs(settings)
    for run in runs:
        if run.name == name:
            return run
    for run in runs:
        if run.facts().get("name") == name:
            return run
    known = ", ".join(dict.fromkeys(r.facts().get("name", r.name) for r in runs[:20])) or "none yet"
    raise PipelineNotFound(
        f"there is no pipeline run {name!r} (pipelines: {known}); start one with `python -m mlcore pipeline run FILE`."
    )


def coordinator_of(folder: PipelineFolder, settings: Settings) -> Job | None:
    return open_store(settings).latest(folder.path, JobKind.PIPELINE)


# -- acting on a run


def stop_pipeline(name: str, settings: Settings, actor: str = LOCAL_USER) -> Job:
    folder = find_pipeline(name, settings)
    job = coordinator_of(folder, settings)
    if job is None or job.state not in OPEN_STATES:
        raise InvalidTransition(
            f"pipeline {folder.name} is not running; resume it with `pipeline resume {folder.name}`."
        )
    return stop_job(job.id, settings, actor=actor)


def cancel_pipeline(name: str, settings: Settings, actor: str = LOCAL_USER) -> Job | None:
    """End the coordinator and the running step's job(s) now; the report says it was cancelled."""
    folder = find_pipeline(name, settings)
    job = coordinator_of(folder, settings)
    if job is not None:
        check_actor(job, actor, settings, "cancel")
    if (job is None or job.state.is_final()) and not any(s["state"] == RUNNING for s in folder.steps()):
        raise InvalidTransition(
            f"pipeline {folder.name} has ended ({state_of(folder, job)}); there is nothing to cancel."
        )
    if job is not None and not job.state.is_final():
        job = cancel_job(job.id, settings, actor=actor)
    store = open_store(settings)
    for record in folder.steps():
        if record["state"] == RUNNING:
            for job_id in [record.get("job"), *(record.get("jobs") or [])]:
                try:
                    if job_id and not store.get(job_id).state.is_final():
                        cancel_job(job_id, settings, actor=actor)
                except (JobNotFound, InvalidTransition, NotYourJob):
                    pass  # ended meanwhile, or another's evaluation that this run was waiting for
            folder.update(record["step"], state=FAILED, error=CANCELLED_NOTE)
        elif record["state"] == PENDING:
            folder.update(record["step"], state=SKIPPED, error=CANCELLED_NOTE)
    write_report(folder, folder.spec(), settings)
    return job


def resume_pipeline(name: str, settings: Settings, owner: str = LOCAL_USER) -> Job:
    """Queue the coordinator again: the passed steps stay as they are, a running step's job is waited for."""
    folder = find_pipeline(name, settings)
    job = coordinator_of(folder, settings)
    if job is not None:
        check_actor(job, owner, settings, "resume")
    if job is not None and job.state in OPEN_STATES:
        raise SubmitError(f"pipeline {folder.name} is running already; follow it with `pipeline status {folder.name}`.")
    if all(s["state"] == PASSED for s in folder.steps()):
        raise SubmitError(f"every step of pipeline {folder.name} has passed; there is nothing to resume.")
    folder.stop_request.unlink(missing_ok=True)
    for path in (folder.report, folder.junit, folder.gate):
        path.unlink(missing_ok=True)
    return _queue(folder, settings, owner)


# -- reading a run


def state_of(folder: PipelineFolder, job: Job | None) -> str:
    """Queued, running or stopping while the coordinator runs; then how the run ended (report.outcome)."""
    if job is not None and not job.state.is_final():
        return job.state.value
    ended = outcome(folder.steps())
    if ended == "running":  # the coordinator ended with steps left: killed, or failed before them
        return "interrupted" if job is None or job.state.value != "cancelled" else "cancelled"
    return ended


def exit_code(document: dict[str, Any]) -> int:
    """0 when the gate passed (or a pipeline without a gate completed), 1 when the gate failed, 2 otherwise."""
    return {PASSED_RUN: EXIT_PASSED, GATE_FAILED: EXIT_GATE_FAILED}.get(document["state"], EXIT_ERROR)


def pipeline_document(name: str, settings: Settings) -> dict[str, Any]:
    """The run as one document (`pipeline run --json`, the API): name, state, gate, steps, report, junit."""
    folder = find_pipeline(name, settings)
    job = coordinator_of(folder, settings)
    facts = folder.facts()
    steps = folder.steps()
    gate = folder.gate_result()
    progress = read_progress(folder.path)
    return {
        "name": facts.get("name"),
        "run": folder.name,
        "state": state_of(folder, job),
        "job": job.id if job else None,
        "error": job.error if job else None,
        "folder": str(folder.path),
        "dataset": facts.get("dataset"),
        "model": facts.get("model"),
        "percent": progress.get("percent"),
        "progress": progress.get("step"),
        "gate": None
        if gate is None
        else {
            "passed": gate["passed"],
            "rules": [{k: r[k] for k in ("rule", "value", "threshold", "passed", "note")} for r in gate["rules"]],
        },
        "steps": [
            {
                "step": s["step"],
                "state": s["state"],
                "job": s.get("job"),
                "output": s.get("output"),
                "error": s.get("error"),
                "started": s.get("started"),
                "ended": s.get("ended"),
            }
            for s in steps
        ],
        "report": str(folder.report) if folder.report.is_file() else None,
        "junit": str(folder.junit) if folder.junit.is_file() else None,
    }


def pipeline_summary(folder: PipelineFolder, settings: Settings) -> dict[str, Any]:
    """One row of the list: the run, its state, its steps' states and the gate's verdict."""
    job = coordinator_of(folder, settings)
    steps = folder.steps()
    gate = folder.gate_result()
    return {
        "run": folder.name,
        "name": folder.facts().get("name"),
        "state": state_of(folder, job),
        "job": job.id if job else None,
        "steps": " ".join(f"{s['step']}:{s['state']}" for s in steps),
        "gate": None if gate is None else gate["passed"],
        "created": folder.created(),
    }


def job_steps_of(document: dict[str, Any]) -> list[str]:
    """The ids of the studio jobs the run's steps queued."""
    return [s["job"] for s in document["steps"] if s["step"] in JOB_STEPS and s.get("job")]


__all__ = ["PipelineError", "PipelineNotFound"]
