"""Faults a shared studio must survive: a locked job database, read-only datasets, a full disk,
workers that ignore SIGTERM, and two people starting trainings at once."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from streamlit.testing.v1 import AppTest

from mlcore.core import paths
from mlcore.core.settings import Settings, load_settings
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.validate import validate
from mlcore.jobs.control import cancel_job
from mlcore.jobs.scheduler import schedule
from mlcore.jobs.store import JobState, JobStore
from mlcore.runs.store import run_states
from mlcore.training.submit import submit_training
from tests.conftest import PROJECT_ROOT, engine_env_for, process_group, tiny_spec, until_final


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.slow  # child processes or a real server: the full suite runs it
def test_a_long_writer_on_the_job_database_does_not_break_the_pages(settings: Settings) -> None:
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    store.submit("training", {"epochs": 1}, str(settings.outputs_root / "trainings" / "p" / "a"))
    locked, release = threading.Event(), threading.Event()

    def writer() -> None:
        db = sqlite3.connect(settings.outputs_root / paths.JOBS_DB, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(10)
        db.execute("ROLLBACK")
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert locked.wait(10)
    threading.Timer(2.0, release.set).start()  # a writer that holds the database for 2 s
    for page in ("training.py", "status.py", "evaluation.py"):
        at = AppTest.from_file(str(PROJECT_ROOT / "pages" / page), default_timeout=60).run()
        assert not at.exception, (page, at.exception)
    thread.join()
    assert len(store.list()) == 1


@pytest.mark.slow
def test_a_read_only_dataset_is_validated_and_trained_on_and_never_written(roots: dict) -> None:
    dataset = Path(roots["ML_STUDIO_DATASET_ROOTS"]) / "small"
    before = snapshot(dataset)
    for path in [dataset, *dataset.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        report = validate(dataset, ValidationOptions(near_duplicates=True))
        assert report.verdict != "not_ready"
        settings = load_settings()
        job = submit_training(tiny_spec(dataset, experiment="readonly"), settings)
        until_final(job.id, settings, 300)
        done = JobStore(settings.outputs_root / paths.JOBS_DB).get(job.id)
        assert done.state is JobState.COMPLETED, done.error
        assert snapshot(dataset) == before  # no cache, no rewritten image, no label touched
    finally:
        for path in [dataset, *dataset.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def _file_size_limit(limit: int):
    def apply() -> None:  # in the worker, before it starts: writes past `limit` bytes fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_a_full_disk_fails_the_job_cleanly_and_nothing_looks_complete(roots: dict) -> None:
    settings = load_settings()
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    spec = tiny_spec(Path(roots["ML_STUDIO_DATASET_ROOTS"]) / "small", experiment="full")
    run_dir = settings.outputs_root / paths.TRAININGS_DIR / "t" / "full"
    job = store.submit("training", spec.to_dict(), str(run_dir))
    store.transition(job.id, JobState.STARTING, device="cpu")
    env = engine_env_for(settings.outputs_root) | {"ML_STUDIO_DATASET_ROOTS": roots["ML_STUDIO_DATASET_ROOTS"]}
    with open(settings.outputs_root / "full-disk.log", "w") as log:
        subprocess.run(
            [sys.executable, "-m", "mlcore.worker", job.id],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_file_size_limit(2 * 2**20),
            timeout=300,
            cwd=PROJECT_ROOT,
        )  # a checkpoint of yolov8n is about 6 MB: the first save fails
    failed = store.get(job.id)
    assert failed.state is JobState.FAILED and "disk is full or a file-size limit" in failed.error
    assert not (run_dir / "metrics.json").exists()
    assert not (run_dir / "weights" / "best.pt").exists() or (run_dir / "weights" / "best.pt").stat().st_size < 2**21
    assert run_states(settings)[str(run_dir)] == "failed" and "failed" in (run_dir / "progress.json").read_text()


STUBBORN = r"""
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
print(child.pid, flush=True)
time.sleep(300)
"""


def test_cancel_empties_the_group_of_a_worker_that_ignores_sigterm(settings: Settings) -> None:
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    job = store.submit("training", {"epochs": 1}, str(settings.outputs_root / "trainings" / "p" / "stubborn"))
    worker = subprocess.Popen(
        [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    child = int(worker.stdout.readline())
    store.transition(job.id, JobState.STARTING, device="cpu")
    store.transition(job.id, JobState.RUNNING, pid=worker.pid, pid_started=psutil.Process(worker.pid).create_time())
    pgid = os.getpgid(worker.pid)
    cancelled = cancel_job(job.id, settings, grace_s=1.0)
    assert cancelled.state is JobState.CANCELLED
    worker.wait(timeout=10)
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    left = [p for p in psutil.process_iter() if process_group(p) == pgid and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []


def test_scheduling_steps_at_the_same_moment_never_lease_one_device_twice(settings: Settings) -> None:
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    for name in ("a", "b", "c"):
        store.submit("training", {"device": "cpu"}, str(settings.outputs_root / "trainings" / "p" / name))
    me = (os.getpid(), psutil.Process().create_time())  # a live "worker", so the lease stays held

    def slow_launcher(job, device, settings):
        time.sleep(0.3)  # the window in which a second step would lease the same device
        return me

    steps = [threading.Thread(target=schedule, args=(settings, None, slow_launcher)) for _ in range(4)]
    for step in steps:
        step.start()
    for step in steps:
        step.join()
    states = sorted(j.state.value for j in store.list())
    assert states == ["queued", "queued", "starting"]


@pytest.mark.slow
def test_two_sessions_start_trainings_one_runs_one_queues_both_finish(roots: dict) -> None:
    sessions = []
    for name in ("first", "second"):
        at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "training.py"), default_timeout=60).run()
        at.selectbox(key="train.dataset").set_value(str(Path(roots["ML_STUDIO_DATASET_ROOTS"]) / "small"))
        at.selectbox(key="train.device").set_value("cpu")
        at.number_input(key="train.epochs").set_value(1)
        at.number_input(key="train.imgsz").set_value(64)
        at.number_input(key="train.batch").set_value(8)
        at.text_input(key="train.experiment").set_value(name)
        at.number_input(key="train.workers").set_value(0)
        sessions.append(at.run())
    for session in sessions:
        session.button(key="train.start").click().run()
        assert not session.exception and not session.error, [e.value for e in session.error]
    settings = load_settings()
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    jobs = store.list(kind="training")
    assert len(jobs) == 2
    assert sorted(j.state.value for j in jobs) in (["queued", "running"], ["queued", "starting"]), [
        j.error for j in jobs
    ]
    for job in jobs:
        until_final(job.id, settings, 300)
    assert [store.get(j.id).state for j in jobs] == [JobState.COMPLETED, JobState.COMPLETED]
