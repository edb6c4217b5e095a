"""An evaluation's MLflow run: its headline numbers and what was evaluated, in "ml-studio-evaluations".

    log_evaluation(settings, folder, job.spec, summary)   # after metrics.json is written; never raises

Metrics: precision, recall, f1 (at the spec's thresholds), map50, map50_95 and ap50_95/{class}.
Params: the model, dataset, split, imgsz and thresholds. When the model is a studio training's weights
and that run folder has an MLflow record on the same server, the run is tagged studio.training_run_id.
A failure is written to the evaluation folder's mlflow_run.json and printed once to its log.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlcore.core.settings import Settings
from mlcore.tracking.client import describe_failure, experiment_id, open_client, tracking_uri
from mlcore.tracking.names import flat_params, metric_values
from mlcore.tracking.record import recorded_run, training_folder, write_record

EXPERIMENT = "ml-studio-evaluations"
HEADLINE = ("precision", "recall", "f1", "map50", "map50_95")
PARAMS = (
    "model_path",
    "dataset_path",
    "split",
    "imgsz",
    "confidence_threshold",
    "iou_threshold",
    "device",
    "model_sha256",
    "dataset_fingerprint",
)
TRAINING_RUN_TAG = "studio.training_run_id"


def evaluation_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """The headline numbers of an evaluation's metrics.json, and each class's AP50-95."""
    values = {key: summary[key] for key in HEADLINE if key in summary}
    per_class = {f"ap50_95/{row.get('name')}": row.get("ap50_95") for row in summary.get("per_class") or []}
    return metric_values({**values, **per_class})


def log_evaluation(settings: Settings, folder: Path, spec: Mapping[str, Any], summary: Mapping[str, Any]) -> None:
    """Log one finished evaluation to MLflow (nothing when the bridge is off)."""
    uri = tracking_uri(settings)
    if not uri:
        return
    run_id = None
    try:
        client = open_client(uri)
        tags = {"studio.evaluation_dir": str(folder), "mlflow.source.name": "ml-studio"}
        trained = training_folder(Path(str(spec.get("model_path", ""))))
        training_run = recorded_run(trained, uri) if trained else None
        if training_run:
            tags[TRAINING_RUN_TAG] = training_run
        run = client.create_run(experiment_id(client, EXPERIMENT, uri), run_name=folder.name, tags=tags)
        run_id = run.info.run_id
        write_record(folder, run_id, uri, experiment=EXPERIMENT)
        from mlflow.entities import Metric, Param

        params = flat_params({key: spec[key] for key in PARAMS if key in spec})
        metrics = [Metric(k, v, int(run.info.start_time), 0) for k, v in evaluation_metrics(summary).items()]
        client.log_batch(run_id, metrics=metrics, params=[Param(k, v) for k, v in params.items()])
        client.set_terminated(run_id, "FINISHED")
    except Exception as exc:  # MLflow never fails an evaluation
        message = describe_failure("logging the evaluation", exc, uri)
        write_record(folder, run_id, uri, message)
        print(f"MLflow: {message}; the evaluation is complete without it.", flush=True)
