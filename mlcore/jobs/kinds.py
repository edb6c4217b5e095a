"""Every kind of job the studio runs, and what each one is: one row of KINDS per JobKind.

    KINDS[JobKind.EXPORT].stoppable    # True: its worker reads the stop request and keeps what it made
    KINDS[job.kind].details(job.spec)  # ("val",): what a job row says about it
    KINDS["audit"].noun                # "label audit" (a plain string finds its row too)

A kind's value is what the job database stores and what the API's messages show: never rename one. Under a
kind, the spec's "task" names which runner of worker.TASKS runs the job (an evaluation measures a model on a
split, or a run's weights). Adding a kind: a JobKind member, its KindInfo here, its runner in worker.TASKS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from mlcore.core import paths


class JobKind(StrEnum):
    """A kind of job: a `str`, so it reads and writes the job database's `kind` column as it always was."""

    TRAINING = "training"
    EVALUATION = "evaluation"
    EXPORT = "export"
    PREDICTION = "prediction"
    TUNING = "tuning"
    AUDIT = "audit"
    SELECTION = "selection"
    DRIFT = "drift"
    PIPELINE = "pipeline"
    EXPLANATION = "explanation"
    TRACKING = "tracking"


class JobTask(StrEnum):
    """The spec's "task" of a job: which runner of its kind runs it (a training has none)."""

    EVALUATE = "evaluate"  # an evaluation of a model on a dataset split
    RUN_METRICS = "run_metrics"  # an evaluation job that computes a run's metrics.json
    EXPORT = "export"
    PREDICT = "predict"
    STUDY = "study"  # a hyperparameter study's coordinator (its trials are trainings)
    AUDIT = "audit"  # a label audit's analysis (alone, or the last step of a K-fold audit)
    KFOLD = "kfold"  # a K-fold audit's coordinator: the fold trainings, then the analysis
    SELECT = "select"
    DRIFT = "drift"
    PIPELINE = "pipeline"  # a pipeline's coordinator (its steps are the other kinds' jobs)
    EXPLAIN = "explain"  # per-box saliency maps of one image (D-RISE: N masked predictions)
    TRACK = "track"  # objects tracked through a video, a folder of frames or a stream, and counted


Details = Callable[[dict[str, Any]], tuple[Any, ...]]


def _name(spec: dict[str, Any], key: str) -> str:
    return Path(str(spec.get(key, ""))).name


def _split(spec: dict[str, Any]) -> tuple[Any, ...]:
    return (spec.get("split"),)


@dataclass(frozen=True)
class KindInfo:
    """What the studio knows of one kind of job."""

    folder: str
    """Its folder under the outputs root (a run's metrics job writes into the run's own folder)."""
    request: str
    """The file in a job's folder that records the spec as submitted."""
    result: str
    """The file in a job's folder that holds what it found or made, written last."""
    log: str
    """The log file the worker writes in the job's folder."""
    listing: str
    """Where the API lists the jobs of this kind, under its prefix (GET /api/v1/ml/{listing})."""
    noun: str
    """What pages and messages call one such job."""
    tasks: tuple[JobTask | None, ...]
    """The spec's tasks a job of this kind may name (None: no task)."""
    details: Details = _split
    """What a job row says about a job of this kind, from its spec."""
    stop_help: str = ""
    """What Stop does to it; empty: Stop does not apply (it has nothing to keep half-way)."""

    @property
    def stoppable(self) -> bool:
        """Whether its worker reads the stop request and ends cleanly, keeping its work."""
        return bool(self.stop_help)


def _info(kind: JobKind, folder: str, request: str, result: str, **facts: Any) -> KindInfo:
    return KindInfo(folder, request, result, paths.log_name(kind), **facts)


KINDS: dict[JobKind, KindInfo] = {
    JobKind.TRAINING: _info(
        JobKind.TRAINING,
        paths.TRAININGS_DIR,
        paths.CONFIG_FILE,
        paths.METRICS_FILE,
        listing="training/status",
        noun="training",
        tasks=(None,),
        details=lambda spec: (spec.get("mode"), spec.get("model_architecture")),
        stop_help="Finish after the current batch: validate and keep best.pt and last.pt.",
    ),
    JobKind.EVALUATION: _info(
        JobKind.EVALUATION,
        paths.VALIDATIONS_DIR,
        paths.EVAL_CONFIG,
        paths.METRICS_FILE,
        listing="model/validate",
        noun="evaluation",
        tasks=(JobTask.EVALUATE, JobTask.RUN_METRICS),
    ),
    JobKind.EXPORT: _info(
        JobKind.EXPORT,
        paths.EXPORTS_DIR,
        paths.EXPORT_CONFIG,
        paths.MODEL_CARD,
        listing="model/export",
        noun="export",
        tasks=(JobTask.EXPORT,),
        stop_help="End after the current step, keeping the formats already made and checked.",
    ),
    JobKind.PREDICTION: _info(
        JobKind.PREDICTION,
        paths.PREDICTIONS_DIR,
        paths.PREDICT_CONFIG,
        paths.SUMMARY_FILE,
        listing="predictions",
        noun="batch prediction",
        tasks=(JobTask.PREDICT,),
        details=lambda spec: (_name(spec, "source"), spec.get("source_kind")),
        stop_help="End after the current images, keeping every file written so far and a summary.",
    ),
    JobKind.TUNING: _info(
        JobKind.TUNING,
        paths.TUNING_DIR,
        paths.TUNE_CONFIG,
        paths.STUDY_JOURNAL,
        listing="tuning",
        noun="study",
        tasks=(JobTask.STUDY,),
        details=lambda spec: (f"study {spec.get('study')}",),
        stop_help="Queue no more trials; the running trials finish their epochs.",  # a study queues no more trials
    ),
    JobKind.AUDIT: _info(
        JobKind.AUDIT,
        paths.AUDITS_DIR,
        paths.QUALITY_CONFIG,
        paths.AUDIT_FILE,
        listing="audits",
        noun="label audit",
        tasks=(JobTask.AUDIT, JobTask.KFOLD),
        details=lambda spec: (spec.get("split"), f"{spec['kfold']}-fold" if spec.get("kfold") else "one model"),
    ),
    JobKind.SELECTION: _info(
        JobKind.SELECTION,
        paths.SELECTIONS_DIR,
        paths.QUALITY_CONFIG,
        paths.SELECTION_FILE,
        listing="selections",
        noun="selection",
        tasks=(JobTask.SELECT,),
        details=lambda spec: (_name(spec, "images"), f"top {spec.get('top')}"),
    ),
    JobKind.DRIFT: _info(
        JobKind.DRIFT,
        paths.DRIFT_DIR,
        paths.QUALITY_CONFIG,
        paths.DRIFT_FILE,
        listing="drift",
        noun="drift report",
        tasks=(JobTask.DRIFT,),
        details=lambda spec: (_name(spec, "images"), "with the model" if spec.get("model_path") else ""),
    ),
    JobKind.PIPELINE: _info(
        JobKind.PIPELINE,
        paths.PIPELINES_DIR,
        paths.PIPELINE_FILE,
        paths.PIPELINE_STATE,
        listing="pipelines",
        noun="pipeline",
        tasks=(JobTask.PIPELINE,),
        details=lambda spec: (f"pipeline {spec.get('pipeline')}",),
        stop_help="End after the current step; the later steps are skipped (resume goes on from there).",
    ),
    JobKind.EXPLANATION: _info(
        JobKind.EXPLANATION,
        paths.EXPLANATIONS_DIR,
        paths.EXPLAIN_CONFIG,
        paths.EXPLANATION_FILE,
        listing="explanations",
        noun="explanation",
        tasks=(JobTask.EXPLAIN,),
        details=lambda spec: (_name(spec, "image"), spec.get("method")),
        stop_help="End after the current batch of masks, keeping maps made from the masks so far.",
    ),
    JobKind.TRACKING: _info(
        JobKind.TRACKING,
        paths.TRACKS_DIR,
        paths.TRACK_CONFIG,
        paths.SUMMARY_FILE,
        listing="tracks",
        noun="tracking",
        tasks=(JobTask.TRACK,),
        details=lambda spec: (
            _name(spec, "source") if spec.get("source_kind") != "stream" else "stream",
            spec.get("tracker"),
        ),
        stop_help="End after the current frame, keeping the tracks, their counts and a playable video so far.",
    ),
}
