"""Submitting, following, stopping and cancelling trainings through the CLI and the API."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import psutil
import pytest

from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings, load_settings
from mlcore.jobs.control import cancel_job
from mlcore.jobs.store import JobState, JobStore
from mlcore.training.submit import submit_training
from tests.conftest import mlcore, process_group, tiny_spec


def test_submission_errors_come_before_any_process(tmp_path: Path, roots: dict) -> None:
    settings = load_settings()
    small = Path(roots["ML_STUDIO_DATASET_ROOTS"]) / "small"
    with pytest.raises(SubmitError, match="outside the allowed folders"):
        submit_training(tiny_spec(tmp_path), settings)
    broken = Path(roots["ML_STUDIO_DATASET_ROOTS"]) / "broken"
    shutil.copytree(small, broken)
    next((broken / "labels" / "train").iterdir()).write_text("9 0.5 0.5 0.2 0.2\n")
    with pytest.raises(SubmitError, match="validation error"):
        submit_training(tiny_spec(broken), settings)
    outside = tmp_path / "weights.pt"
    outside.write_bytes(b"not really")
    with pytest.raises(SubmitError, match="pickle"):
        submit_training(tiny_spec(small, mode="transfer", base_model_path=str(outside)), settings)
    (settings.outputs_root / "trainings" / "t" / "taken").mkdir(parents=True)
    with pytest.raises(SubmitError, match="already exists"):
        submit_training(tiny_spec(small, experiment="taken"), settings)
    assert not (settings.outputs_root / "jobs.db").exists() or JobStore(settings.outputs_root / "jobs.db").list() == []


@pytest.mark.slow
def test_train_wait_then_the_jobs_commands(roots: dict) -> None:
    data = str(Path(roots["ML_STUDIO_DATASET_ROOTS"]) / "small")
    proc = mlcore(
        "train",
        "--data",
        data,
        "--epochs",
        "1",
        "--imgsz",
        "64",
        "--batch",
        "8",
        "--device",
        "cpu",
        "--workers",
        "0",
        "--project",
        "t",
        "--experiment",
        "one",
        "--no-plots",
        "--wait",
        extra_env=roots,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    job_id = proc.stdout.splitlines()[0]
    assert "completed" in proc.stdout and "100.0%" in proc.stderr
    listed = json.loads(mlcore("jobs", "list", "--json", extra_env=roots).stdout)
    assert [(j["id"], j["state"]) for j in listed] == [(job_id, "completed")]
    shown = json.loads(mlcore("jobs", "show", job_id, "--json", extra_env=roots).stdout)
    assert shown["run_dir"].endswith("trainings/t/one") and shown["pid"] and shown["error"] is None
    assert shown["progress"]["percent"] == 100.0
    assert "epoch" in mlcore("jobs", "logs", job_id, extra_env=roots).stdout.lower()
    again = mlcore("jobs", "cancel", job_id, extra_env=roots)
    assert again.returncode == 1 and "already completed" in again.stderr
    assert mlcore("jobs", "show", "nope", extra_env=roots).returncode == 1

    best = Path(shown["run_dir"]) / "weights" / "best.pt"
    transfer = mlcore(
        "train",
        "--mode",
        "transfer",
        "--base-model",
        str(best),
        "--data",
        data,
        "--epochs",
        "1",
        "--imgsz",
        "64",
        "--batch",
        "8",
        "--device",
        "cpu",
        "--workers",
        "0",
        "--project",
        "t",
        "--experiment",
        "two",
        "--no-plots",
        "--wait",
        extra_env=roots,
    )
    assert transfer.returncode == 0, transfer.stderr[-2000:]
    spec = json.loads(mlcore("jobs", "show", transfer.stdout.split()[0], "--json", extra_env=roots).stdout)["spec"]
    assert spec["mode"] == "transfer" and spec["base_model_path"] == str(best.resolve())

    metrics = Path(shown["run_dir"]) / "metrics.json"
    metrics.unlink()  # as for a run that finished before the studio kept its metrics
    measured = mlcore("runs", "metrics", "t/one", "--wait", extra_env=roots)
    assert measured.returncode == 0, measured.stderr[-2000:]
    assert len(json.loads(metrics.read_text())["confusion_matrix"]) == 6  # five classes and background
    assert (Path(shown["run_dir"]) / "evaluation.log").exists()


@pytest.mark.slow
def test_cancel_ends_the_worker_and_its_whole_group(roots: dict) -> None:
    settings: Settings = load_settings()
    job = submit_training(tiny_spec(Path(roots["ML_STUDIO_DATASET_ROOTS"]) / "small", epochs=200), settings)
    store = JobStore(settings.outputs_root / "jobs.db")
    deadline = time.monotonic() + 120
    while store.get(job.id).state is not JobState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.2)
    running = store.get(job.id)
    assert running.state is JobState.RUNNING
    pgid = os.getpgid(running.pid)
    cancelled = cancel_job(job.id, settings, grace_s=5)
    assert cancelled.state is JobState.CANCELLED and cancelled.ended
    time.sleep(0.5)
    left = [p.pid for p in psutil.process_iter() if process_group(p) == pgid and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _kill_9_after_an_epoch(store: JobStore, job_id: str) -> None:
    """Wait until the training has a completed epoch and a resumable checkpoint, then kill its worker's group."""
    import signal

    from mlcore.jobs.local import is_alive
    from mlcore.runs.results import read_results

    run_dir = Path(store.get(job_id).run_dir)
    assert _wait(
        lambda: len(read_results(run_dir / "results.csv")) >= 1 and (run_dir / "weights" / "resumable.pt").exists(), 180
    )
    worker = store.get(job_id)
    os.killpg(os.getpgid(worker.pid), signal.SIGKILL)
    assert _wait(lambda: not is_alive(worker.pid, worker.pid_started), 30)


@pytest.mark.slow
def test_kill_9_after_an_epoch_then_resume_completes_the_run(roots: dict) -> None:
    from mlcore.jobs.scheduler import schedule
    from mlcore.runs.results import read_results
    from mlcore.training.submit import extend_training, resume_training

    settings = load_settings()
    job = submit_training(
        tiny_spec(Path(roots["ML_STUDIO_DATASET_ROOTS"]) / "small", epochs=3, experiment="crash"), settings
    )
    store = JobStore(settings.outputs_root / "jobs.db")
    run_dir = Path(job.run_dir)
    _kill_9_after_an_epoch(store, job.id)
    schedule(settings)
    failed = store.get(job.id)
    assert failed.state is JobState.FAILED and "Resume" in failed.error

    resumed = resume_training("t/crash", settings)
    assert resumed.run_dir == job.run_dir and resumed.spec["mode"] == "resume"
    assert _wait(lambda: (schedule(settings), store.get(resumed.id).state.is_final())[1], 300)
    assert store.get(resumed.id).state is JobState.COMPLETED, store.get(resumed.id).error
    assert list(read_results(run_dir / "results.csv")["epoch"]) == [1, 2, 3]  # one history, no gap, no repeat

    with pytest.raises(SubmitError, match="nothing to resume.*extend"):
        resume_training("t/crash", settings)  # a finished run is refused, pointing to extend

    extended = extend_training("t/crash", 2, settings)
    assert extended.run_dir == job.run_dir and extended.spec["epochs"] == 5
    assert _wait(lambda: (schedule(settings), store.get(extended.id).state.is_final())[1], 300)
    assert store.get(extended.id).state is JobState.COMPLETED, store.get(extended.id).error
    assert list(read_results(run_dir / "results.csv")["epoch"]) == [1, 2, 3, 4, 5]  # both parts, one history
    assert (run_dir / "metrics.json").exists() and (run_dir / "weights" / "best.pt").exists()
    with pytest.raises(SubmitError, match="at least 1"):
        extend_training("t/crash", 0, settings)


def test_resume_refuses_a_damaged_checkpoint_or_an_unknown_run(roots: dict) -> None:
    from mlcore.training.submit import extend_training, resume_training

    settings = load_settings()
    run_dir = settings.outputs_root / "trainings" / "t" / "broken"
    (run_dir / "weights").mkdir(parents=True)
    (run_dir / "training_config.yaml").write_text(json.dumps(tiny_spec(Path("d")).to_dict()))
    (run_dir / "weights" / "last.pt").write_bytes(b"half a checkpoint")
    with pytest.raises(SubmitError, match="cannot be read"):
        resume_training("t/broken", settings)
    with pytest.raises(SubmitError, match="does not exist"):
        resume_training("t/never", settings)
    with pytest.raises(SubmitError, match="outside"):
        extend_training("../..", 3, settings)


@pytest.mark.slow
def test_a_worker_killed_with_kill_9_is_failed_at_the_next_cli_look_and_resumes_from_the_cli(roots: dict) -> None:
    """`jobs show` takes a scheduling step, so the command line alone sees the dead worker, frees its
    device and can resume the run (it once refused with 'is already running or queued')."""
    settings = load_settings()
    dataset = Path(roots["ML_STUDIO_DATASET_ROOTS"]) / "small"
    job = submit_training(tiny_spec(dataset, epochs=50, experiment="killed"), settings)
    store = JobStore(settings.outputs_root / "jobs.db")
    _kill_9_after_an_epoch(store, job.id)
    assert store.get(job.id).state is JobState.RUNNING  # nobody has looked yet

    shown = mlcore("jobs", "show", job.id, "--json", env_outputs=Path(roots["ML_STUDIO_OUTPUTS"]), extra_env=roots)
    assert shown.returncode == 0, shown.stderr
    seen = json.loads(shown.stdout)
    assert seen["state"] == "failed" and "Resume" in seen["error"] and seen["device"] == "cpu"
    listed = mlcore("jobs", "list", "--json", extra_env=roots)
    assert [j["state"] for j in json.loads(listed.stdout) if j["id"] == job.id] == ["failed"]

    resumed = mlcore("train", "--resume", "t/killed", extra_env=roots)
    assert resumed.returncode == 0, resumed.stderr
    again = store.get(resumed.stdout.strip())
    assert again.run_dir == job.run_dir and again.spec["mode"] == "resume"
    assert again.state in (JobState.STARTING, JobState.RUNNING)  # started at once: the dead job freed the CPU
    cancel_job(again.id, settings)
