"""The job database: states, transitions, concurrency, and a hypothesis state machine."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from mlcore.core.errors import InvalidTransition, JobNotFound
from mlcore.jobs.store import ALLOWED, FINAL_STATES, JobState, JobStore


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "jobs.db")


def test_a_job_goes_from_queued_to_completed(store: JobStore) -> None:
    job = store.submit("training", {"epochs": 3}, "/runs/a")
    assert job.state is JobState.QUEUED and job.started is None and store.queue_position(job.id) == 1
    job = store.transition(job.id, JobState.STARTING, expect=JobState.QUEUED, device="cpu")
    assert job.started is not None and job.device == "cpu" and store.queue_position(job.id) is None
    job = store.transition(job.id, JobState.RUNNING, pid=4242, pid_started=1.5)
    job = store.transition(job.id, JobState.COMPLETED)
    assert job.state.is_final() and job.ended >= job.started and job.pid == 4242 and job.spec == {"epochs": 3}
    with pytest.raises(InvalidTransition, match="completed; it cannot become running"):
        store.transition(job.id, JobState.RUNNING)


def test_queue_order_and_listing(store: JobStore) -> None:
    a, b, c = (store.submit("training", {"n": n}, f"/runs/{n}") for n in range(3))
    store.transition(a.id, JobState.STARTING)
    assert [store.queue_position(j.id) for j in (a, b, c)] == [None, 1, 2]
    assert [j.id for j in store.list({JobState.QUEUED})] == [b.id, c.id]
    assert [j.id for j in store.list(kind="training")] == [a.id, b.id, c.id]
    assert store.list(kind="evaluation") == []


def test_bad_requests_are_clear(store: JobStore) -> None:
    with pytest.raises(JobNotFound, match="jobs list"):
        store.get("nope")
    with pytest.raises(ValueError, match="kind='train'"):
        store.submit("train", {}, "/r")
    job = store.submit("training", {}, "/r")
    with pytest.raises(ValueError, match="cannot update"):
        store.transition(job.id, JobState.STARTING, state="completed")
    with pytest.raises(InvalidTransition, match="not running"):
        store.transition(job.id, JobState.STARTING, expect=JobState.RUNNING)
    assert store.get(job.id).state is JobState.QUEUED  # nothing changed


def test_two_schedulers_never_both_start_a_job(tmp_path: Path) -> None:
    JobStore(tmp_path / "jobs.db").submit("training", {}, "/r")
    job_id = JobStore(tmp_path / "jobs.db").list()[0].id
    started, refused = [], []
    barrier = threading.Barrier(8)

    def scheduler() -> None:
        store = JobStore(tmp_path / "jobs.db")  # each with its own connection, like separate processes
        barrier.wait()
        try:
            store.transition(job_id, JobState.STARTING, expect=JobState.QUEUED)
            started.append(1)
        except InvalidTransition:
            refused.append(1)

    threads = [threading.Thread(target=scheduler) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(started) == 1 and len(refused) == 7


def test_a_restarted_reader_sees_the_same_jobs(tmp_path: Path) -> None:
    first = JobStore(tmp_path / "jobs.db")
    job = first.submit("training", {"a": 1}, "/r")
    first.transition(job.id, JobState.STARTING)
    assert JobStore(tmp_path / "jobs.db").get(job.id) == first.get(job.id)


class JobLifecycle(RuleBasedStateMachine):
    """Random submissions and transitions against a model of the allowed moves."""

    @initialize()
    def open_store(self) -> None:
        import tempfile

        self.folder = tempfile.TemporaryDirectory()
        self.store = JobStore(Path(self.folder.name) / "jobs.db")
        self.model: dict[str, JobState] = {}
        self.went_through_starting: set[str] = set()

    @rule()
    def submit(self) -> None:
        job = self.store.submit("training", {}, "/r")
        self.model[job.id] = JobState.QUEUED

    @rule(pick=st.integers(0, 50), to=st.sampled_from(list(JobState)))
    def move(self, pick: int, to: JobState) -> None:
        if not self.model:
            return
        job_id = sorted(self.model)[pick % len(self.model)]
        before = self.model[job_id]
        if to in ALLOWED[before]:
            assert self.store.transition(job_id, to).state is to
            self.model[job_id] = to
            if to is JobState.STARTING:
                self.went_through_starting.add(job_id)
        else:
            with pytest.raises(InvalidTransition):
                self.store.transition(job_id, to)

    @invariant()
    def store_matches_model(self) -> None:
        if not hasattr(self, "store"):
            return
        for job in self.store.list():
            assert job.state is self.model[job.id]
            assert (job.ended is not None) == (job.state in FINAL_STATES)
            assert (job.started is not None) == (job.id in self.went_through_starting)

    def teardown(self) -> None:
        if hasattr(self, "folder"):
            self.folder.cleanup()


TestJobLifecycle = JobLifecycle.TestCase
TestJobLifecycle.settings = hypothesis_settings(max_examples=40, stateful_step_count=25, deadline=None)


def test_a_training_whose_callbacks_stand_still_shows_the_epochs_results_csv_recorded(tmp_path: Path) -> None:
    from mlcore.jobs.progress import read_progress

    run = tmp_path / "run"
    run.mkdir()
    (run / "progress.json").write_text(json.dumps({"state": "running", "epoch": 1, "epochs": 10, "eta_s": 50.0}))
    (run / "results.csv").write_text("epoch,loss\n1,0.9\n")
    assert read_progress(run)["epoch"] == 1 and read_progress(run)["eta_s"] == 50.0  # the callbacks are current
    (run / "results.csv").write_text("epoch,loss\n1,0.9\n2,0.8\n3,0.7\n4,0.6\n")
    moved = read_progress(run)
    assert moved["epoch"] == 5 and moved["percent"] == 40.0 and moved["source"] == "results.csv"
    (run / "progress.json").write_text(json.dumps({"state": "completed", "epoch": 2, "epochs": 10}))
    assert read_progress(run)["epoch"] == 2  # an ended job's progress stands as its worker wrote it
