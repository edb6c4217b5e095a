"""What each step of a pipeline does: submit the studio's ordinary job for it, and read what it made.

    job = submit_step("evaluate", settings_of_step, inputs, settings, owner)   # or None: done in the coordinator
    output = step_output("evaluate", job, inputs, settings)                     # what the next steps and the gate read

`inputs` carries what earlier steps made: the dataset, the model (the trained run's best.pt, or the pipeline's
`model`), the gate's verdict. The validate, compare, gate and register steps are short and run in the
coordinator itself; compare queues the evaluations it lacks as jobs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.jobs.kinds import KINDS, JobKind
from mlcore.jobs.store import Job
from mlcore.pipelines.rules import OVERALL, PER_CLASS

JOB_STEPS = ("train", "evaluate", "audit", "export")


class StepFailed(RuntimeError):
    """A step could not do its work; the message says why and what to do."""


@dataclass
class Inputs:
    dataset: str
    model: str | None
    pipeline: str
    """The run's folder name: the trained run is trainings/pipeline-{name}/{stamp}."""
    owner: str
    resolved: dict[str, str] = field(default_factory=dict)
    """What the file names, as resolved when the run started (base_model_path, against): the worker's folder is
    not the terminal's."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """Each step that ran -> its output."""

    @property
    def gate_passed(self) -> bool:
        return bool((self.outputs.get("gate") or {}).get("passed"))


def submit_step(step: str, options: dict[str, Any], inputs: Inputs, settings: Settings) -> Job:
    """Queue the job of a train, evaluate, audit or export step."""
    from mlcore.evaluation.spec import EvalSpec
    from mlcore.evaluation.submit import submit_evaluation
    from mlcore.export.spec import ExportSpec
    from mlcore.export.submit import submit_export
    from mlcore.quality.spec import AuditSpec
    from mlcore.quality.submit import submit_audit
    from mlcore.training.submit import submit_training

    if step == "train":
        return submit_training(train_spec_for(options, inputs, settings), settings, owner=inputs.owner)
    model = _model(inputs)
    if step == "evaluate":
        spec = EvalSpec.from_dict({"model_path": model, "dataset_path": inputs.dataset, **options})
        return submit_evaluation(spec, settings, owner=inputs.owner)
    if step == "audit":
        audit = AuditSpec.from_dict({"model_path": model, "dataset_path": inputs.dataset, **options})
        return submit_audit(audit, settings, owner=inputs.owner)
    if step == "export":
        export = ExportSpec.from_dict({"dataset_path": inputs.dataset, **options, "model_path": model})
        return submit_export(export, settings, owner=inputs.owner)
    raise ValueError(f"{step} is no job step")


def train_spec_for(options: dict[str, Any], inputs: Inputs, settings: Settings) -> Any:
    from mlcore.pipelines.spec import train_spec
    from mlcore.registry.references import model_path
    from mlcore.training.submit import free_experiment_name

    options = dict(options)
    if options.get("base_model_path"):  # resolved when the run started (a registered version, a run, a file)
        base = inputs.resolved.get("base_model_path") or str(options["base_model_path"])
        options["base_model_path"] = model_path(base, settings, True, "a training")
    stem, _, stamp = inputs.pipeline.rpartition("_")
    project = f"pipeline-{stem or inputs.pipeline}"
    experiment = free_experiment_name(project, stamp or "run", settings)  # a step run again trains anew
    return train_spec(options, inputs.dataset, project, experiment)


def _model(inputs: Inputs) -> str:
    if not inputs.model:
        raise StepFailed("there is no model to use: the train step made none and the file names no model.")
    return inputs.model


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StepFailed(
            f"{path.name} of {path.parent} could not be read ({exc}); look at the job's log there."
        ) from None


def step_output(step: str, job: Job, inputs: Inputs) -> dict[str, Any]:
    """What a finished job of the step made, as the pipeline records it."""
    folder = Path(job.run_dir)
    if step == "train":
        weights = folder / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS
        if not weights.is_file():
            weights = folder / paths.WEIGHTS_DIR / paths.LAST_WEIGHTS
        if not weights.is_file():
            raise StepFailed(f"the training {folder} kept no weights; look at its train.log.")
        return {"run": str(folder), "weights": str(weights), "results": str(folder / paths.RESULTS_CSV)}
    if step == "evaluate":
        return evaluation_output(folder, _read_json(folder / paths.METRICS_FILE))
    if step == "audit":
        audit = _read_json(folder / KINDS[JobKind.AUDIT].result)
        counts = audit.get("counts") or {}
        spot = audit.get("blind_spot") or {}
        return {
            "folder": str(folder),
            "suspects": counts.get("suspects"),
            "likely": counts.get("likely"),
            "weak": bool((audit.get("strength") or {}).get("weak")),
            "blind_below_px": spot.get("below_px"),
            "blind_labels": spot.get("labels"),
        }
    if step == "export":
        return export_output(folder, _read_json(folder / paths.MODEL_CARD))
    raise ValueError(step)


def evaluation_output(folder: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    per_class = {
        row["name"]: {k: row.get(k) for k in PER_CLASS} for row in metrics.get("per_class") or [] if "name" in row
    }
    leakage = metrics.get("leakage") or {}
    plot = folder / "confusion_matrix.png"
    return {
        "folder": str(folder),
        "split": (metrics.get("leakage") or {}).get("split"),
        "images": metrics.get("images"),
        "imgsz": metrics.get("imgsz"),
        **{k: metrics.get(k) for k in OVERALL},
        "per_class": per_class,
        "leakage_copies": leakage.get("copies"),
        "plots": [str(plot)] if plot.is_file() else [],
    }


def export_output(folder: Path, card: dict[str, Any]) -> dict[str, Any]:
    formats = {}
    for entry in card.get("formats") or []:
        parity = entry.get("parity") or {}
        formats[entry["format"]] = {
            "path": entry.get("path"),
            "parity": None if not parity else ("passed" if parity.get("passed") else "failed"),
            "parity_verdict": parity.get("verdict"),
            "map50_95_delta": parity.get("map50_95_delta"),
            "latency_ms": (entry.get("latency") or {}).get("median_ms"),
        }
    return {
        "folder": str(folder),
        "formats": formats,
        "latency_ms_pytorch": (card.get("latency_source") or {}).get("median_ms"),
        "stopped": bool(card.get("stopped")),
    }


# -- the steps the coordinator does itself


def validate_step(options: dict[str, Any], inputs: Inputs, settings: Settings) -> dict[str, Any]:
    from mlcore.datasets.loader import DatasetError
    from mlcore.datasets.validation.options import ValidationOptions
    from mlcore.datasets.validation.saved_reports import save_report
    from mlcore.datasets.validation.validate import validate

    opts = ValidationOptions(
        near_duplicates=bool(options.get("near_duplicates", True)),
        check_images=bool(options.get("check_images", True)),
    )
    try:
        report = validate(Path(inputs.dataset), opts, cache_path=settings.image_facts_cache)
    except (DatasetError, ValueError, OSError) as exc:
        raise StepFailed(f"the dataset could not be validated: {exc}") from None
    counts = report.severity_counts()
    saved = save_report(report, settings.outputs_root).folder
    output = {
        "report": str(saved),
        "verdict": report.verdict,
        "errors": counts["error"],
        "warnings": counts["warning"],
    }
    fail_on = options.get("fail_on", "error")
    if counts["error"] or (fail_on == "warning" and counts["warning"]):
        first = next((i.message for i in report.issues if i.severity in ("error", fail_on)), "")
        raise StepFailed(
            f"the dataset is {report.verdict.replace('_', ' ')} ({counts['error']} error(s), {counts['warning']} "
            f"warning(s); first: {first}). Repair it (python -m mlcore dataset repair) or see the report in {saved}.",
            output,
        )
    return output


def compare_step(options: dict[str, Any], inputs: Inputs, settings: Settings) -> tuple[dict[str, Any], list[str]]:
    """The A/B comparison of the pipeline's model (B) against `against` (A); (output, evaluation jobs to wait for)."""
    from mlcore.compare.pairing import ComparisonError
    from mlcore.registry.ab import ComparisonRequest, start_comparison

    request = ComparisonRequest(
        a=inputs.resolved.get("against") or str(options["against"]),
        b=_model(inputs),
        dataset_path=inputs.dataset,
        **{k: v for k, v in options.items() if k != "against"},
    )
    try:
        outcome = start_comparison(request, settings, owner=inputs.owner)
    except (ComparisonError, SubmitError, ValueError) as exc:
        raise StepFailed(f"the comparison against {options['against']} could not be made: {exc}") from None
    if outcome.pending:
        return {}, list(outcome.pending)
    document = outcome.document or {}
    if "a" not in document or "b" not in document:
        raise StepFailed(f"the comparison in {outcome.folder} left no document; see its report there.")
    return {
        "folder": str(outcome.folder),
        "against": options["against"],
        "a": document["a"]["label"],
        "b": document["b"]["label"],
        "verdict": document.get("verdict"),
        "summary": document.get("summary"),
        "metrics": document.get("metrics") or {},
        "images": document.get("images"),
        "per_class": document.get("per_class") or {},
    }, []


def register_step(options: dict[str, Any], inputs: Inputs, settings: Settings) -> dict[str, Any]:
    from mlcore.registry.promotion import set_alias
    from mlcore.registry.registration import register_model
    from mlcore.registry.store import RegistryError

    reason = str(options.get("reason") or f"pipeline {inputs.pipeline}")
    try:
        version = register_model(_model(inputs), options["name"], settings, user=inputs.owner, reason=reason)
    except (RegistryError, SubmitError) as exc:
        raise StepFailed(f"the model could not be registered as {options['name']}: {exc}") from None
    output: dict[str, Any] = {"name": options["name"], "version": version.number, "alias": None}
    alias = options.get("alias_on_pass")
    if alias and inputs.gate_passed:
        try:
            set_alias(settings, options["name"], alias, version.number, inputs.owner, reason)
        except RegistryError as exc:
            raise StepFailed(
                f"version {version.number} was registered, but {alias} could not move to it: {exc}"
            ) from None
        output["alias"] = alias
    return output
