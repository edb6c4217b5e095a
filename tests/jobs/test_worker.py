"""The training worker, run as its own process on a real (tiny) CPU training."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlcore.core import paths
from mlcore.jobs.store import JobState, JobStore
from mlcore.training.spec import TrainSpec
from tests.conftest import engine_env_for
from tests.dataset_builder import snapshot

pytestmark = pytest.mark.slow


def run_worker(outputs: Path, dataset: Path, tmp_path: Path, stop_first: bool = False, **spec_fields):
    store = JobStore(outputs / paths.JOBS_DB)
    spec = TrainSpec(
        dataset_path=str(dataset),
        epochs=2,
        imgsz=64,
        batch_size=8,
        workers=0,
        device="cpu",
        project="tests",
        experiment="run",
        **spec_fields,
    )
    run_dir = outputs / paths.TRAININGS_DIR / "tests" / "run"
    job = store.submit("training", spec.to_dict(), str(run_dir))
    store.transition(job.id, JobState.STARTING, device="cpu")  # as the scheduler does
    if stop_first:
        run_dir.mkdir(parents=True)
        (run_dir / "stop.request").write_text("")
    env = engine_env_for(outputs)
    with open(tmp_path / "train.log", "w") as log:
        code = subprocess.run(
            [sys.executable, "-m", "mlcore.worker", job.id],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=600,
            cwd=tmp_path,
        ).returncode
    return code, store.get(job.id), run_dir


def test_a_job_trains_and_leaves_numbers_weights_and_progress(tmp_path: Path, small_dataset: Path) -> None:
    user = tmp_path / "user"
    shutil.copytree(small_dataset, user)
    before = snapshot(user)
    code, job, run_dir = run_worker(tmp_path / "ml_outputs", user, tmp_path)
    assert code == 0, (tmp_path / "train.log").read_text()[-3000:]
    assert job.state is JobState.COMPLETED and job.pid and job.pid_started and job.ended
    for name in ("weights/best.pt", "weights/last.pt", "weights/resumable.pt", "results.csv", "confusion_matrix.png"):
        assert (run_dir / name).exists(), name
    assert len((run_dir / "results.csv").read_text().splitlines()) == 3  # header + 2 epochs
    progress = json.loads((run_dir / "progress.json").read_text())
    assert progress["state"] == "completed" and progress["percent"] == 100.0 and progress["epochs"] == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) >= {"precision", "recall", "map50", "map50_95", "classes", "curves", "confusion_matrix"}
    assert len(metrics["confusion_matrix"]) == 6  # five classes and background
    assert all(len(c["x"]) == 1000 for c in metrics["curves"].values())
    assert snapshot(user) == before  # the user's dataset is byte-identical


def test_stop_ends_after_one_batch_with_finalised_weights(tmp_path: Path, small_dataset: Path) -> None:
    code, job, run_dir = run_worker(tmp_path / "ml_outputs", small_dataset, tmp_path, stop_first=True)
    assert code == 0 and job.state is JobState.COMPLETED
    assert json.loads((run_dir / "progress.json").read_text())["state"] == "stopped"
    assert len((run_dir / "results.csv").read_text().splitlines()) == 2  # the partial first epoch only
    assert (run_dir / "weights" / "best.pt").exists()
    check = (
        "import sys, torch; c = torch.load(sys.argv[1], weights_only=False); "
        "print(c['epoch'] >= 0 and c['optimizer'] is not None, torch.load(sys.argv[2], weights_only=False)['epoch'])"
    )
    env = engine_env_for(tmp_path / "ml_outputs")
    weights = run_dir / "weights"
    out = subprocess.run(
        [sys.executable, "-c", check, str(weights / "resumable.pt"), str(weights / "last.pt")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.stdout.splitlines()[-1].split() == ["True", "-1"]  # the copy can resume; last.pt was stripped


def test_a_failing_job_records_why(tmp_path: Path) -> None:
    code, job, run_dir = run_worker(tmp_path / "ml_outputs", tmp_path / "no-such-dataset", tmp_path)
    assert code == 1 and job.state is JobState.FAILED and "DatasetError" in job.error
    assert json.loads((run_dir / "progress.json").read_text())["state"] == "failed"


class FakeTrainer:
    """What the progress callbacks read from an Ultralytics trainer."""

    epochs, epoch, start_epoch, stop, tloss, train_loader = 3, 0, 0, False, None, [0] * 4


@pytest.mark.parametrize("rank", ["-1", "0", "1"])
def test_progress_is_reported_by_rank_0_only_and_a_multi_gpu_stop_waits_for_the_epoch_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rank: str
) -> None:
    from mlcore.training.task import ProgressReporter

    monkeypatch.setenv("RANK", rank)
    (tmp_path / "stop.request").write_text("")
    reporter, trainer = ProgressReporter(tmp_path), FakeTrainer()
    reporter.epoch_start(trainer)
    reporter.batch_end(trainer)
    assert trainer.stop is (rank == "-1")  # one process: stop between batches
    reporter.fit_epoch_end(trainer)
    assert trainer.stop is (rank in ("-1", "0"))  # ranks: rank 0 decides at the epoch end, then broadcasts
    written = (tmp_path / "progress.json").exists()
    assert written is (rank != "1")
    if written:
        progress = json.loads((tmp_path / "progress.json").read_text())
        assert progress["state"] == "stopping" and progress["batches"] == 4 and progress["epochs"] == 3
        assert progress["device_memory_gb"] > 0  # on the CPU: this process's resident memory


def test_out_of_memory_names_the_batch_size_and_a_smaller_one() -> None:
    from mlcore.engine.metrics import failure_message

    text = failure_message(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), 64)
    assert "batch_size=64" in text and "batch_size=32" in text
    assert "batch_size=-1" in failure_message(RuntimeError("CUDA error: out of memory"), -1)
    assert failure_message(ValueError("bad"), 16) == "ValueError: bad"
