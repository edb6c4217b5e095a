"""A trial's training, run by the worker: an ordinary training that reports each epoch to its study.

After every validated epoch the worker reads the objective from the run's results.csv, reports it to the study
as the trial's value at that epoch, and asks the study's pruner whether to go on. When the pruner says stop,
it writes `pruned.json` in the run folder and ends the training the way Stop does: the epoch finishes, the
weights are kept, and the job completes. The coordinator then records the trial as pruned.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.paths import PRUNED_FILE
from mlcore.core.settings import Settings, distributed_rank
from mlcore.jobs.store import Job, JobStore
from mlcore.training import task as training_task
from mlcore.tuning.study import StudyFolder, epoch_objectives, open_study

logger = logging.getLogger("mlcore.tuning.trial")


class TrialReporter:
    """The Ultralytics callback that reports to the study and prunes."""

    def __init__(self, run_dir: Path, folder: StudyFolder, trial_id: int) -> None:
        import optuna

        self.run_dir = run_dir
        self.spec = folder.spec()
        self.study = open_study(folder, self.spec)
        self.trial = optuna.trial.Trial(self.study, trial_id)
        self.reported: set[int] = set()

    def callbacks(self) -> dict[str, Any]:
        return {"on_fit_epoch_end": self.epoch_end}

    def epoch_end(self, trainer: Any) -> None:
        if distributed_rank() > 0:
            return
        for epoch, value in epoch_objectives(self.run_dir, self.spec.objective):
            if epoch in self.reported:
                continue
            self.trial.report(value, step=epoch)
            self.reported.add(epoch)
            if not trainer.stop and self.trial.should_prune():
                logger.info(
                    "trial %d pruned after epoch %d (%s %.4f)", self.trial.number, epoch, self.spec.objective, value
                )
                print(f"The study's pruner stopped this trial after epoch {epoch} ({self.spec.objective} {value:.4f}).")
                write_json_atomically(self.run_dir / PRUNED_FILE, {"epoch": epoch, "value": value})
                trainer.stop = True  # this epoch's weights are saved; the training ends normally


def run(job: Job, settings: Settings, store: JobStore) -> int:
    """Train the trial's spec, reporting to its study."""
    trial = job.spec["trial"]
    reporter = TrialReporter(Path(job.run_dir), StudyFolder(Path(trial["study"])), int(trial["id"]))
    return training_task.run(job, settings, store, callbacks=reporter.callbacks())
