"""The training's MLflow run: Ultralytics callbacks that log params, per-epoch metrics and the files.

With the bridge on, a training logs to one MLflow run in the experiment named after its project:

    params     the studio spec (training_config.yaml), flattened
    metrics    each epoch's validation metrics, losses and learning rates, step = the epoch (1, 2, ...),
               and the final evaluation of best.pt as best/... at the last epoch's step
    artifacts  weights/best.pt, weights/last.pt, results.csv, the plot PNGs, training_config.yaml

The run id is kept in the run folder's mlflow_run.json, so resume and extend continue the same run
with later steps. Only the main process (rank 0) logs. Any MLflow failure is written to that file and
once to the training log, and the bridge stops for the rest of the training: it never fails one.

    tracker = TrainingTracker(settings, run_dir, params=config, job_id=job.id)
    for event, callback in tracker.callbacks().items():
        model.add_callback(event, callback)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlcore.core.paths import BEST_WEIGHTS, CONFIG_FILE, LAST_WEIGHTS, RESULTS_CSV, WEIGHTS_DIR
from mlcore.core.settings import Settings, distributed_rank
from mlcore.tracking.client import describe_failure, experiment_id, open_client, tracking_uri
from mlcore.tracking.names import flat_params, metric_values
from mlcore.tracking.record import recorded_run, write_record

BATCH = 100  # MLflow's most params per log_batch call
SOURCE = "ml-studio"
CHANGED_PARAM_TAG = "latest."  # a param whose value changed since the run began (extend: epochs) is a tag


class TrainingTracker:
    """Ultralytics callbacks that log one training (each segment of it: resume, extend) to MLflow."""

    def __init__(self, settings: Settings, run_dir: Path, params: Mapping[str, Any], job_id: str = "") -> None:
        self.uri = tracking_uri(settings)
        self.run_dir = run_dir
        self.params = dict(params)
        self.job_id = job_id
        self.run_id: str | None = None
        self.failed = False
        self.finished = False
        self.trained_epoch: int | None = None  # the epoch whose on_fit_epoch_end is still to come
        self.last_step = 0
        self._client: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None}  # multi-GPU: the trainer and its callbacks are pickled

    def callbacks(self) -> dict[str, Callable[[Any], None]]:
        """The Ultralytics events it handles; none when the bridge is off."""
        if not self.uri:
            return {}
        return {
            "on_pretrain_routine_end": self.start,
            "on_train_epoch_end": self.epoch_trained,
            "on_fit_epoch_end": self.epoch_end,
            "on_train_end": self.end,
            "teardown": self.teardown,
        }

    def _active(self) -> bool:
        return bool(self.uri) and not self.failed and distributed_rank() <= 0

    def _guard(self, action: str, work: Callable[[], None]) -> None:
        if not self._active():
            return
        try:
            work()
        except Exception as exc:  # MLflow never fails a training
            self.failed = True
            message = describe_failure(action, exc, self.uri)
            write_record(self.run_dir, self.run_id or recorded_run(self.run_dir, self.uri), self.uri, message)
            print(f"MLflow: {message}; the training goes on without MLflow.", flush=True)

    def start(self, trainer: Any) -> None:
        self._guard("starting the MLflow run", self._start)

    def _start(self) -> None:
        client = self._client = open_client(self.uri)
        experiment = self.run_dir.parent.name
        previous = recorded_run(self.run_dir, self.uri)
        if previous:
            logged = client.get_run(previous).data.params
            client.update_run(previous, status="RUNNING")
            self.run_id = previous
        else:
            tags = {"studio.run_dir": str(self.run_dir), "studio.job_id": self.job_id, "mlflow.source.name": SOURCE}
            run = client.create_run(experiment_id(client, experiment, self.uri), run_name=self.run_dir.name, tags=tags)
            self.run_id, logged = run.info.run_id, {}
        write_record(self.run_dir, self.run_id, self.uri, experiment=experiment)
        from mlflow.entities import Param, RunTag

        params = flat_params(self.params)
        new = [Param(k, v) for k, v in params.items() if k not in logged]
        changed = [RunTag(CHANGED_PARAM_TAG + k, v) for k, v in params.items() if k in logged and logged[k] != v]
        for i in range(0, max(len(new), 1), BATCH):
            client.log_batch(self.run_id, params=new[i : i + BATCH], tags=changed if i == 0 else [])

    def epoch_trained(self, trainer: Any) -> None:
        self.trained_epoch = int(trainer.epoch)

    def epoch_end(self, trainer: Any) -> None:
        """An epoch's numbers; the call without a trained epoch before it is the final evaluation of best.pt."""
        epoch = int(trainer.epoch)
        if self.trained_epoch == epoch:
            self.trained_epoch, self.last_step = None, epoch + 1
            values = {**_losses(trainer), **(trainer.metrics or {}), **(getattr(trainer, "lr", None) or {})}
            self._guard("logging epoch metrics", lambda: self._log(metric_values(values), self.last_step))
        else:
            best = metric_values(trainer.metrics or {}, prefix="best/")
            self._guard("logging the final metrics", lambda: self._log(best, self.last_step or epoch))

    def _log(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in values.items()]
        if self.run_id and metrics:
            self._client.log_batch(self.run_id, metrics=metrics)

    def end(self, trainer: Any) -> None:
        self._guard("logging the run's files", self._end)

    def _end(self) -> None:
        if not self.run_id:
            return
        weights = self.run_dir / WEIGHTS_DIR
        for name in (BEST_WEIGHTS, LAST_WEIGHTS):
            if (weights / name).exists():
                self._client.log_artifact(self.run_id, str(weights / name), WEIGHTS_DIR)
        for path in [self.run_dir / RESULTS_CSV, self.run_dir / CONFIG_FILE, *sorted(self.run_dir.glob("*.png"))]:
            if path.exists():
                self._client.log_artifact(self.run_id, str(path))
        self._client.set_terminated(self.run_id, "FINISHED")
        self.finished = True

    def teardown(self, trainer: Any) -> None:
        """After the training, also when it raised: a run that did not finish is marked FAILED."""
        if self.run_id and not self.finished:
            self._guard("ending the MLflow run", lambda: self._client.set_terminated(self.run_id, "FAILED"))


def _losses(trainer: Any) -> dict[str, Any]:
    try:
        return dict(trainer.label_loss_items(trainer.tloss, prefix="train"))
    except (TypeError, ValueError, AttributeError):
        return {}
