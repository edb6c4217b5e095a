"""Scheduling: device leases on a fake NVML, reconciling dead workers, and two real jobs in a row."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mlcore.core import paths
from mlcore.core.settings import Settings
from mlcore.jobs.local import is_alive
from mlcore.jobs.scheduler import schedule
from mlcore.jobs.store import JobState, JobStore
from mlcore.training.spec import TrainSpec
from tests.fake_nvml import FakeNvml, three_gpus

NO_GPU = FakeNvml([], init_error="NVML Shared Library Not Found")


class FakeLauncher:
    """Records launches and hands out this test process's own pid, so the workers look alive."""

    def __init__(self) -> None:
        self.devices: dict[str, str] = {}

    def __call__(self, job, device, settings):
        self.devices[job.id] = device
        me = psutil.Process()
        return me.pid, me.create_time()


def submit(settings: Settings, device: str = "auto", dataset: str = "d") -> str:
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    spec = TrainSpec(dataset_path=dataset, epochs=1, imgsz=64, batch_size=8, workers=0, device=device)
    n = len(store.list())
    return store.submit("training", spec.to_dict(), str(settings.outputs_root / "trainings" / "t" / f"r{n}")).id


def test_auto_takes_the_freest_gpu_and_a_busy_or_full_gpu_makes_jobs_wait(settings: Settings) -> None:
    a, b, c = (submit(settings) for _ in range(3))
    d = submit(settings, device="2")
    launcher = FakeLauncher()
    report = schedule(settings, nvml=three_gpus(os.getpid()), launcher=launcher)
    assert report.started == (a, b)
    assert launcher.devices == {a: "gpu:0", b: "gpu:1"}  # GPU 0 has the most free memory; GPU 2 is full
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    assert store.get(c).state is JobState.QUEUED and store.queue_position(c) == 1
    assert store.get(d).state is JobState.QUEUED and store.queue_position(d) == 2
    assert schedule(settings, nvml=three_gpus(os.getpid()), launcher=launcher).started == ()  # still busy
    store.transition(a, JobState.RUNNING)
    store.transition(a, JobState.COMPLETED)
    assert schedule(settings, nvml=three_gpus(os.getpid()), launcher=launcher).started == (c,)
    assert launcher.devices[c] == "gpu:0"  # the lease of the finished job is free again


def test_a_gpu_that_does_not_exist_fails_the_job_with_the_reason(settings: Settings) -> None:
    job = submit(settings, device="7")
    report = schedule(settings, nvml=three_gpus(os.getpid()), launcher=FakeLauncher())
    assert report.failed == (job,)
    error = JobStore(settings.outputs_root / paths.JOBS_DB).get(job).error
    assert "GPU 7 does not exist" in error and "0, 1, 2" in error


def test_without_a_gpu_one_job_runs_on_the_cpu_and_the_rest_wait(settings: Settings) -> None:
    jobs = [submit(settings) for _ in range(2)] + [submit(settings, device="0")]
    launcher = FakeLauncher()
    report = schedule(settings, nvml=NO_GPU, launcher=launcher)
    assert report.started == (jobs[0],) and launcher.devices == {jobs[0]: "cpu"}
    assert report.failed == (jobs[2],)  # device=0 on a machine without GPU
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    assert "has none" in store.get(jobs[2]).error and store.get(jobs[1]).state is JobState.QUEUED


def test_a_dead_worker_is_reconciled_with_its_log_tail(settings: Settings, tmp_path: Path) -> None:
    job = submit(settings)
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    run_dir = Path(store.get(job).run_dir)
    run_dir.mkdir(parents=True)
    (run_dir / "train.log").write_text("epoch 1/3\nKilled\n")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.transition(job, JobState.STARTING, device="cpu", pid=dead.pid, pid_started=time.time() - 5)
    store.transition(job, JobState.RUNNING)
    report = schedule(settings, nvml=NO_GPU, launcher=FakeLauncher())
    assert report.reconciled == (job,)
    failed = store.get(job)
    assert failed.state is JobState.FAILED and "Resume" in failed.error and "Killed" in failed.error


def test_a_reused_pid_is_not_mistaken_for_the_worker() -> None:
    me = psutil.Process()
    assert is_alive(me.pid, me.create_time())
    assert not is_alive(me.pid, me.create_time() - 3600)  # same pid, another process start: not ours
    assert not is_alive(None, None)


@pytest.mark.slow
def test_two_real_jobs_on_one_cpu_slot_run_one_after_the_other(settings: Settings, small_dataset: Path) -> None:
    first, second = submit(settings, dataset=str(small_dataset)), submit(settings, dataset=str(small_dataset))
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    states_seen = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        schedule(settings, nvml=NO_GPU)
        a, b = store.get(first), store.get(second)
        states_seen.add((a.state, b.state))
        assert not (
            a.state in {JobState.STARTING, JobState.RUNNING} and b.state in {JobState.STARTING, JobState.RUNNING}
        )
        if a.state.is_final() and b.state.is_final():
            break
        time.sleep(0.5)
    assert (a.state, b.state) == (JobState.COMPLETED, JobState.COMPLETED), (a.error, b.error)
    assert (JobState.RUNNING, JobState.QUEUED) in states_seen  # the second waited for the first
    assert b.started >= a.ended
    for job in (a, b):
        assert (Path(job.run_dir) / "weights" / "best.pt").exists()
        gone_by = time.monotonic() + 30  # the worker exits right after recording its end
        while is_alive(job.pid, job.pid_started) and time.monotonic() < gone_by:
            time.sleep(0.2)
        assert not is_alive(job.pid, job.pid_started)
