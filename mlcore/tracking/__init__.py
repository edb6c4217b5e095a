"""The optional MLflow bridge: trainings, evaluations and registered versions mirrored to an MLflow server.

On only when Settings.mlflow_uri (ML_STUDIO_MLFLOW_URI) is set; without it nothing here imports mlflow.
Every MLflow failure is recorded (mlflow_run.json, one log line, or an {"error": ...} answer) and never
fails a job. Modules: client (the connection), record (mlflow_run.json), names (params and metric
names), training (the training's callbacks), evaluation, registry (versions and aliases).

May import: mlcore.core only; the packages that report to MLflow import it.
"""

from mlcore.tracking.evaluation import log_evaluation
from mlcore.tracking.registry import delete_alias, register_version, set_alias
from mlcore.tracking.training import TrainingTracker

__all__ = ["TrainingTracker", "delete_alias", "log_evaluation", "register_version", "set_alias"]
