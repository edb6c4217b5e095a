"""A pipeline's coordinator, run by the worker as a job that holds no device: each step in turn, each job step an
ordinary job of the studio (the queue, the leases, Stop and Cancel, Ray apply to it), each step's output feeding
the next. At the end it writes gate.json, report.md and junit.xml.

A Stop (stop.request in the pipeline's folder) lets the running step finish and skips the rest. A step that fails
ends the pipeline with its error, the later steps skipped. When the gate fails, the steps after it are skipped:
nothing is exported, registered or promoted. A coordinator killed half-way loses nothing: steps.json records
every step's job as soon as it is queued, and a resumed coordinator waits for a running one, runs a failed one
again, and leaves the passed ones as they are.
"""

from __future__ import annotations

import subprocess
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.errors import JobNotFound, SubmitError, TaskError
from mlcore.core.paths import RunFolder
from mlcore.core.settings import Settings
from mlcore.engine.checkpoint import CheckpointError, inspect_checkpoint
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.kinds import KINDS
from mlcore.jobs.progress import describe, read_progress
from mlcore.jobs.scheduler import schedule
from mlcore.jobs.store import Job, JobState, JobStore, ProgressState, open_store
from mlcore.pipelines.folder import FAILED, PASSED, RUNNING, SKIPPED, PipelineFolder
from mlcore.pipelines.gate import judge
from mlcore.pipelines.report import write_report
from mlcore.pipelines.steps import (
    JOB_STEPS,
    Inputs,
    StepFailed,
    compare_step,
    register_step,
    step_output,
    submit_step,
    validate_step,
)

POLL_S = 0.25  # how often the coordinator looks at a step's job (its state is one SQLite read)
SCHEDULE_EVERY_S = 5.0  # a look at the queue now and then, for a step's job waiting on a busy device


class PipelineFailed(TaskError):
    """A step failed; the message names it and says why."""


class Coordinator:
    def __init__(self, job: Job, settings: Settings, poll_s: float = POLL_S) -> None:
        self.job = job
        self.settings = settings
        self.poll_s = poll_s
        self.folder = PipelineFolder(Path(job.run_dir))
        self.spec = self.folder.spec()
        facts = self.folder.facts()
        self.inputs = Inputs(
            facts["dataset"], facts.get("model"), self.folder.name, job.owner, dict(facts.get("resolved") or {})
        )
        self.rules = self.spec.rules(tuple(facts.get("classes") or ()))
        self.store: JobStore = open_store(settings)
        self.scheduled = time.monotonic()

    # -- the steps in turn

    def run(self) -> None:
        failure: str | None = None
        held: str | None = None  # why the steps from here on are skipped
        total = len(self.spec.steps)
        for index, (step, options) in enumerate(self.spec.steps):
            record = self.folder.step(step)
            if record["state"] == PASSED:
                self.take(step, record["output"])
                continue
            if held is None and self.folder.stop_request.exists():
                held = "the pipeline was stopped before it ran"
            if held is not None:
                self.folder.update(step, state=SKIPPED, error=held)
                continue
            print(f"Step {index + 1}/{total}: {step}", flush=True)
            self.write_progress(index, step)
            try:
                output = self.run_step(index, step, options, record)
            except Exception as exc:  # noqa: BLE001 - any step's failure ends the run with a report, not without one
                if not isinstance(exc, StepFailed):
                    traceback.print_exc()
                message = str(exc.args[0]) if isinstance(exc, StepFailed) else f"{type(exc).__name__}: {exc}"
                made = exc.args[1] if isinstance(exc, StepFailed) and len(exc.args) > 1 else None
                self.folder.update(step, state=FAILED, error=message, output=made)
                print(f"Step {step} failed: {message}", flush=True)
                failure, held = f"step {step} failed: {message}", f"step {step} failed"
                continue
            self.take(step, output)
            if step == "gate" and not output["passed"]:
                held = "the gate failed (" + "; ".join(output["failed"]) + ")"
                self.folder.update(step, state=FAILED, output=output, error=held)
                print(f"The gate failed: {', '.join(output['failed'])}", flush=True)
                continue
            self.folder.update(step, state=PASSED, output=output, error=None)
        self.finish(failure)

    def take(self, step: str, output: dict[str, Any]) -> None:
        self.inputs.outputs[step] = output
        if step == "train":
            self.inputs.model = output["weights"]
            if "export" in self.spec.step_names:  # the export's check of the weights, done while others run
                threading.Thread(target=self.read_weights, args=(Path(output["weights"]),), daemon=True).start()

    def read_weights(self, weights: Path) -> None:
        try:
            inspect_checkpoint(weights, self.settings)
        except (CheckpointError, OSError, subprocess.SubprocessError):
            pass  # the export step reads them again and says what is wrong

    def run_step(self, index: int, step: str, options: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        if step in JOB_STEPS:
            job = self.job_of(record) or self.submit(step, options)
            job = self.wait(index, step, job)
            if job.state is not JobState.COMPLETED:
                noun = KINDS[job.kind].noun
                cause = (job.error or "").strip().splitlines()
                raise StepFailed(f"its {noun} job {job.id} was {job.state.value}" + (f": {cause[0]}" if cause else "."))
            return step_output(step, job, self.inputs)
        self.folder.update(step, state=RUNNING)
        if step == "validate":
            return validate_step(options, self.inputs, self.settings)
        if step == "compare":
            return self.compare(index, options)
        if step == "gate":
            document = judge(self.rules, self.inputs.outputs)
            write_json_atomically(self.folder.gate, document)
            return document
        if step == "register":
            return register_step(options, self.inputs, self.settings)
        raise StepFailed(f"{step} is no step this studio runs")

    def submit(self, step: str, options: dict[str, Any]) -> Job:
        try:
            job = submit_step(step, options, self.inputs, self.settings)
        except (SubmitError, ValueError, OSError) as exc:
            raise StepFailed(f"its job could not be queued: {exc}") from None
        self.folder.update(step, state=RUNNING, job=job.id)
        print(f"Step {step}: job {job.id}", flush=True)
        return job

    def job_of(self, record: dict[str, Any]) -> Job | None:
        """The step's job from an earlier coordinator, when it is still running or completed (else run it again)."""
        if not record.get("job"):
            return None
        try:
            job = self.store.get(record["job"])
        except JobNotFound:
            return None
        if job.state.is_final() and job.state is not JobState.COMPLETED:
            return None
        print(f"Step {record['step']}: taking up job {job.id} ({job.state.value})", flush=True)
        return job

    def wait(self, index: int, step: str, job: Job) -> Job:
        while not job.state.is_final():
            self.write_progress(index, step, job)
            time.sleep(self.poll_s)
            if time.monotonic() - self.scheduled > SCHEDULE_EVERY_S:
                schedule(self.settings)
                self.scheduled = time.monotonic()
            job = self.store.get(job.id)
        return job

    def compare(self, index: int, options: dict[str, Any]) -> dict[str, Any]:
        for _ in range(3):  # first call queues the missing evaluations; the next one compares
            output, pending = compare_step(options, self.inputs, self.settings)
            if not pending:
                return output
            self.folder.update("compare", jobs=pending)
            for job_id in pending:
                job = self.wait(index, "compare", self.store.get(job_id))
                if job.state is not JobState.COMPLETED:
                    raise StepFailed(
                        f"the evaluation {job.id} it needs was {job.state.value}: {job.error or ''}".strip()
                    )
        raise StepFailed("the comparison's evaluations ended but the comparison could not be made; see the log.")

    # -- reporting

    def write_progress(self, index: int, step: str, job: Job | None = None) -> None:
        total = len(self.spec.steps)
        fraction, text = 0.0, f"step {index + 1}/{total}: {step}"
        if job is not None:
            progress = read_progress(Path(job.run_dir))
            fraction = min(1.0, float(progress.get("percent") or 0) / 100)
            text += f" · {describe(job, progress)}"
        write_json_atomically(
            RunFolder(self.folder.path).progress,
            {
                "state": ProgressState.STOPPING if self.folder.stop_request.exists() else ProgressState.RUNNING,
                "step": text,
                "percent": round(100 * (index + fraction) / total, 1),
                "current": step,
                "updated": time.time(),
            },
        )

    def finish(self, failure: str | None) -> None:
        write_report(self.folder, self.spec, self.settings)
        done = {"state": ProgressState.COMPLETED, "percent": 100.0, "updated": time.time()}
        write_json_atomically(RunFolder(self.folder.path).progress, done)
        if failure:
            raise PipelineFailed(failure)
        print(f"Pipeline {self.folder.name}: done.", flush=True)


def run(job: Job, settings: Settings, store: JobStore) -> int:
    """The worker's entry for a pipeline's coordinator."""
    return run_to_end(store, job, lambda: Coordinator(job, settings).run())
