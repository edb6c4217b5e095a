"""The coordinator of a study, run by the worker as a job that holds no device: it asks Optuna for trials,
queues each as an ordinary training job, and tells the study how each ended.

At every look (every POLL_S) it records the trials whose training ended (complete with its best epoch's
objective, pruned when the trial's worker wrote pruned.json, failed with the job's error), then queues new
trials while fewer than `parallel` run and the budget allows. A Stop (stop.request in the study folder) queues
no more trials and waits for the running ones to finish. A killed coordinator loses nothing: the study, the
trial jobs and their runs go on, and a resumed coordinator takes up the trials still running.
"""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.errors import JobNotFound, SubmitError
from mlcore.core.paths import PRUNED_FILE, RunFolder
from mlcore.core.settings import Settings
from mlcore.core.spec import SpecError
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.progress import read_progress
from mlcore.jobs.scheduler import target_executor
from mlcore.jobs.store import Job, JobState, JobStore, ProgressState, open_store
from mlcore.training.spec import TrainSpec
from mlcore.training.submit import submit_training
from mlcore.tuning.space import suggest, train_fields
from mlcore.tuning.spec import ARCHITECTURE_PARAM, TuneSpec
from mlcore.tuning.study import (
    ERROR_ATTR,
    JOB_ATTR,
    RUN_ATTR,
    StudyFolder,
    epoch_objectives,
    open_study,
    record_failure,
    trial_project,
)

POLL_S = 1.0
FAIL_FAST = 3  # when the first this-many trials all fail, the study ends with their common cause
TRIAL_DEFAULTS = {"plots": False}  # a trial's charts come from results.csv; Ultralytics' plots cost seconds per trial
FALLBACK_OPTIMIZER = "AdamW"  # when lr0 is searched but the optimizer is not: optimizer=auto would ignore lr0


class TuningFailed(RuntimeError):
    """No trial of the study could train; the message gives the common cause."""


def common_cause(errors: list[str]) -> str:
    """The most frequent first line among the trials' errors."""
    lines = [e.strip().splitlines()[0] for e in errors if e and e.strip()]
    if not lines:
        return "the trials ended without saying why (see their logs)"
    line, count = collections.Counter(lines).most_common(1)[0]
    return f"{line} ({count} of {len(errors)} trials)"


class Coordinator:
    def __init__(self, job: Job, settings: Settings, poll_s: float = POLL_S) -> None:
        self.job = job
        self.settings = settings
        self.poll_s = poll_s
        self.folder = StudyFolder(Path(job.run_dir))
        self.spec: TuneSpec = self.folder.spec()
        self.space = self.spec.parsed_space()
        self.study = open_study(self.folder, self.spec)
        self.store: JobStore = open_store(settings)
        self.elapsed_before = float(read_progress(self.folder.path).get("study_elapsed_s") or 0.0)
        self.started = time.monotonic()
        self.parallel = self.spec.parallel or target_executor(settings).capacity(self.spec.device)

    # -- the loop

    def run(self) -> None:
        print(f"Study {self.spec.study}: up to {self.parallel} trial(s) at once, {self.budget_text()}.", flush=True)
        while self.step():
            time.sleep(self.poll_s)
        self.finish()

    def step(self) -> bool:
        """One look: record the trials that ended, queue new ones; False when nothing runs and nothing will."""
        import optuna

        self.collect()
        trials = [t for t in self.study.get_trials(deepcopy=False) if t.state != optuna.trial.TrialState.WAITING]
        running = sum(1 for t in trials if t.state == optuna.trial.TrialState.RUNNING)
        asked = len(trials)
        while not self.holding() and running < self.parallel and self.budget_left(asked):
            self.launch()
            asked += 1
            running += 1
        self.write_progress(asked, running)
        return running > 0

    def holding(self) -> bool:
        """No new trials: the study was stopped, or its first trials all failed."""
        return RunFolder(self.folder.path).stop_request.exists() or self.failing()

    def failing(self) -> bool:
        import optuna

        done = [t for t in self.study.get_trials(deepcopy=False) if t.state.is_finished()]
        ok = [t for t in done if t.state != optuna.trial.TrialState.FAIL]
        return not ok and len(done) >= FAIL_FAST

    def elapsed_s(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def budget_left(self, asked: int) -> bool:
        if self.spec.trials is not None and asked >= self.spec.trials:
            return False
        return self.spec.hours is None or self.elapsed_s() < self.spec.hours * 3600

    def budget_text(self) -> str:
        parts = [f"{self.spec.trials} trials"] if self.spec.trials else []
        if self.spec.hours:
            parts.append(f"{self.spec.hours:g} h")
        return " or ".join(parts) + f" of {self.spec.epochs} epoch(s)"

    # -- trials

    def launch(self) -> None:
        """Ask the study for a trial and queue its training; a training that cannot be queued fails the trial."""
        trial = self.study.ask()
        params = suggest(trial, self.space)
        spec = self.spec
        architecture = (
            trial.suggest_categorical(ARCHITECTURE_PARAM, list(spec.architectures))
            if len(spec.architectures) > 1
            else spec.architectures[0]
        )
        project, experiment = trial_project(spec.study), f"trial-{trial.number}"
        run_dir = self.settings.outputs_root / paths.TRAININGS_DIR / project / experiment
        trial.set_user_attr(RUN_ATTR, str(run_dir))
        fields: dict[str, Any] = {
            "mode": "transfer" if spec.base_model_path else "full",
            "dataset_path": spec.dataset_path,
            "model_architecture": architecture,
            "epochs": spec.epochs,
            "patience": spec.epochs,  # a trial is judged on all its epochs (the pruner stops the bad ones)
            "batch_size": spec.batch_size,
            "imgsz": spec.imgsz,
            "device": spec.device,
            "workers": spec.workers,
            "seed": spec.seed,
            "project": project,
            "experiment": experiment,
            "base_model_path": spec.base_model_path,
            "trial": {"study": str(self.folder.path), "number": trial.number, "id": trial._trial_id},
            **train_fields(params),
        }
        fields["advanced"] = {**TRIAL_DEFAULTS, **spec.advanced, **fields["advanced"]}
        if "lr0" in params and "optimizer" not in params:
            fields["optimizer"] = FALLBACK_OPTIMIZER
        try:
            job = submit_training(TrainSpec.from_dict(fields), self.settings, owner=self.job.owner)
        except (SpecError, SubmitError) as exc:
            self.fail(trial.number, f"its training could not be queued: {exc}")
            return
        trial.set_user_attr(JOB_ATTR, job.id)
        print(f"Trial {trial.number}: job {job.id}, {json.dumps(params, default=str)}", flush=True)

    def collect(self) -> None:
        """Tell the study about every running trial whose training job has ended."""
        import optuna

        for trial in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            job = self.job_of(trial)
            if job is None:
                self.fail(trial.number, "the coordinator stopped before the trial's training was queued")
                continue
            if not job.state.is_final():
                continue
            self.record_end(trial.number, job)

    def job_of(self, trial: Any) -> Job | None:
        job_id = trial.user_attrs.get(JOB_ATTR)
        if job_id:
            try:
                return self.store.get(job_id)
            except JobNotFound:
                return None
        run = trial.user_attrs.get(RUN_ATTR)  # queued just before the coordinator was killed: adopt its job
        job = self.store.latest(run, JobKind.TRAINING) if run else None
        if job is not None:
            self.study._storage.set_trial_user_attr(trial._trial_id, JOB_ATTR, job.id)
        return job

    def record_end(self, number: int, job: Job) -> None:
        import optuna

        run_dir = Path(job.run_dir)
        if job.state is not JobState.COMPLETED:
            cause = (job.error or f"its training was {job.state.value}").strip()
            self.fail(number, cause)
            return
        pruned = run_dir / PRUNED_FILE
        if pruned.exists() or RunFolder(run_dir).stop_request.exists():
            self._tell(number, state=optuna.trial.TrialState.PRUNED)
            print(f"Trial {number}: pruned", flush=True)
            return
        values = [v for _, v in epoch_objectives(run_dir, self.spec.objective)]
        if not values:
            self.fail(number, f"its run {run_dir} recorded no validated epoch in results.csv")
            return
        self._tell(number, values=max(values))
        print(f"Trial {number}: {self.spec.objective} {max(values):.4f}", flush=True)

    def fail(self, number: int, cause: str) -> None:
        record_failure(self.study, number, cause)
        print(f"Trial {number}: failed: {cause.splitlines()[0] if cause else ''}", flush=True)

    def _tell(self, number: int, **outcome: Any) -> None:
        try:
            self.study.tell(number, **outcome)
        except (ValueError, RuntimeError):
            pass  # told already (a Cancel of the study records its running trials itself)

    # -- reporting

    def write_progress(self, asked: int, running: int) -> None:
        import optuna

        complete = [t for t in self.study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        fractions = []
        if self.spec.trials:
            fractions.append((asked - running) / self.spec.trials)
        if self.spec.hours:
            fractions.append(self.elapsed_s() / (self.spec.hours * 3600))
        best = max((t.value for t in complete), default=None)
        step = f"trial {asked}" + (f"/{self.spec.trials}" if self.spec.trials else "") + f", {running} running"
        write_json_atomically(
            RunFolder(self.folder.path).progress,
            {
                "step": step + (f", best {best:.4f}" if best is not None else ""),
                "state": ProgressState.STOPPING if self.holding() else ProgressState.RUNNING,
                "percent": round(100 * min(1.0, max(fractions or [0.0])), 1),
                "trials": asked,
                "running": running,
                "best_value": best,
                "study_elapsed_s": round(self.elapsed_s(), 1),
                "updated": time.time(),
            },
        )

    def finish(self) -> None:
        import optuna

        trials = self.study.get_trials(deepcopy=False)
        ok = [t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
        failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
        progress = {
            "state": ProgressState.COMPLETED,
            "percent": 100.0,
            "trials": len(trials),
            "running": 0,
            "study_elapsed_s": round(self.elapsed_s(), 1),
            "updated": time.time(),
        }
        if failed and not ok:
            cause = common_cause([t.user_attrs.get(ERROR_ATTR, "") for t in failed])
            write_json_atomically(RunFolder(self.folder.path).progress, {**progress, "state": ProgressState.FAILED})
            raise TuningFailed(f"every trial of study {self.spec.study} failed: {cause}")
        write_json_atomically(RunFolder(self.folder.path).progress, progress)
        print(f"Study {self.spec.study}: {len(trials)} trial(s) done.", flush=True)


def run(job: Job, settings: Settings, store: JobStore) -> int:
    """The worker's entry for a coordinator job."""
    return run_to_end(store, job, lambda: Coordinator(job, settings).run(), progress=False)
