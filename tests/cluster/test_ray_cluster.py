"""The Ray executor on a real local cluster: a head and a worker node, each declaring one GPU.

Jobs ask for device "auto", so Ray gives each one declared GPU; with no CUDA on this machine the worker
trains on the CPU, which is what makes GPU scheduling testable here. The tests share one cluster, in order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from mlcore.cluster import submission
from mlcore.cluster.nodes import read_nodes
from mlcore.cluster.probe import cluster_check, probe
from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings, load_settings
from mlcore.jobs.control import cancel_job, stop_job
from mlcore.jobs.scheduler import refresh
from mlcore.jobs.store import Job, JobState, open_store
from mlcore.system.cluster import cluster_status
from mlcore.training.spec import TrainSpec
from mlcore.training.submit import resume_training, submit_training
from tests.conftest import PROJECT_ROOT
from tests.ray_cluster import LocalRayCluster
from tests.s3_server import SeaweedServer, seaweedfs

pytestmark = [pytest.mark.ray, pytest.mark.slow]
LONG = 200  # epochs for jobs that a test stops, cancels or kills


@pytest.fixture(scope="module")
def bucket_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    with seaweedfs(tmp_path_factory.mktemp("s3"), buckets=("data",)) as running:
        yield running


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, bucket_server: SeaweedServer) -> Iterator[LocalRayCluster]:
    credentials = {k: v for k, v in bucket_server.env.items() if k.startswith("AWS_")}  # each node's own
    started = LocalRayCluster(tmp_path_factory.mktemp("ray"), env=credentials).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def environment(
    cluster: LocalRayCluster,
    bucket_server: SeaweedServer,
    tmp_path_factory: pytest.TempPathFactory,
    small_dataset: Path,
) -> dict:
    outputs = tmp_path_factory.mktemp("ray-outputs")
    return {
        **os.environ,
        **bucket_server.env,
        "ML_STUDIO_OUTPUTS": str(outputs),
        "ML_STUDIO_DATASET_ROOTS": str(small_dataset.parent),
        "ML_STUDIO_RAY_ADDRESS": cluster.address,
        "ML_STUDIO_NODE_CACHE": str(tmp_path_factory.mktemp("node-cache")),
    }


@pytest.fixture
def studio(environment: dict, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in environment.items():
        if name.startswith("ML_STUDIO_"):
            monkeypatch.setenv(name, value)
    return load_settings(environment)


def spec(dataset: Path | str, experiment: str, **changes) -> TrainSpec:
    values = {"epochs": 1, "imgsz": 64, "batch_size": 8, "workers": 0, "device": "auto", **changes}
    return TrainSpec(dataset_path=str(dataset), project="ray", experiment=experiment, **values)


def wait_for(settings: Settings, what: Callable[[], bool], seconds: float = 180, why: str = "") -> None:
    """Take scheduling steps (as the pages do) until `what` holds."""
    deadline = time.monotonic() + seconds
    while not what():
        if time.monotonic() > deadline:
            jobs = [(j.id, j.state.value, j.node, j.error) for j in open_store(settings).list()]
            raise AssertionError(f"{why or 'condition'} not reached in {seconds:.0f} s; jobs: {jobs}")
        refresh(settings)
        time.sleep(0.5)


def job(settings: Settings, job_id: str) -> Job:
    return open_store(settings).get(job_id)


def epochs_done(settings: Settings, job_id: str) -> int:
    results = Path(job(settings, job_id).run_dir) / "results.csv"
    return max(0, len(results.read_text().splitlines()) - 1) if results.exists() else 0


def worker_processes(job_id: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = process.info["cmdline"] or []
        if "mlcore.worker" in line and job_id in line:
            found.append(process)
    return found


def test_the_probe_refuses_a_cluster_without_shared_outputs_or_without_the_studio(
    studio: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alive = [n for n in read_nodes(studio.ray_address) if n.alive]
    assert len(alive) == 2 and sum(n.gpus for n in alive) == 2
    other_disk = tmp_path / "a-node's-own-disk"
    other_disk.mkdir()
    unshared = probe(studio, alive, "2.58.0", node_outputs_root=other_disk)
    assert not unshared.ok
    assert "not shared" in unshared.message and "same path on every node" in unshared.message

    monkeypatch.setenv("ML_STUDIO_RAY_PYTHON", "/opt/nowhere/bin/python")
    without_studio = cluster_check(load_settings(), force=True)
    assert not without_studio.ok
    assert "cannot run the studio's worker" in without_studio.message
    assert "ML_STUDIO_RAY_PYTHON" in without_studio.message
    assert cluster_status(load_settings())["executor"] == "local"  # refused: new jobs stay on this machine

    monkeypatch.delenv("ML_STUDIO_RAY_PYTHON")
    assert cluster_check(load_settings(), force=True).ok


def test_a_job_asking_for_more_gpus_than_any_node_has_is_refused_at_submit(
    studio: Settings, small_dataset: Path
) -> None:
    with pytest.raises(SubmitError, match=r"largest node of the Ray cluster .* has 1"):
        submit_training(spec(small_dataset, "too-big", device="0,1"), studio)
    assert not (studio.outputs_root / "trainings" / "ray" / "too-big").exists()  # nothing left behind
    assert open_store(studio).list() == []


def test_a_cpu_training_from_a_bucket_runs_on_the_cluster_from_its_nodes_own_copy_and_its_run_folder_is_complete(
    studio: Settings, small_dataset: Path, bucket_server: SeaweedServer
) -> None:
    s3 = bucket_server.client()
    for path in (p for p in small_dataset.rglob("*") if p.is_file()):
        s3.upload_file(str(path), "data", f"logos/{path.relative_to(small_dataset).as_posix()}")
    started = submit_training(spec("s3://data/logos", "cpu", device="cpu"), studio)
    assert started.executor == "ray"
    submitted_copy = studio.outputs_root / "datasets" / "s3" / "data" / "logos"
    assert started.spec["dataset_path"] == str(submitted_copy)  # validated on the studio's machine, as recorded
    wait_for(studio, lambda: job(studio, started.id).state.is_final(), why="the CPU training to end")
    done = job(studio, started.id)
    assert done.state is JobState.COMPLETED, done.error
    run = Path(done.run_dir)
    for name in ("weights/best.pt", "weights/last.pt", "results.csv", "metrics.json", "train.log", "args.yaml"):
        assert (run / name).exists(), name
    node_copy = studio.node_cache / "datasets" / "s3" / "data" / "logos"
    assert sorted(p.name for p in (node_copy / "images" / "train").iterdir()) == sorted(
        p.name for p in (small_dataset / "images" / "train").iterdir()
    )
    log = (run / "train.log").read_text()
    assert "Pulling s3://data/logos/ into this node" in log and str(node_copy) in log
    assert bucket_server.env["AWS_SECRET_ACCESS_KEY"] not in log + json.dumps(done.spec)
    assert open_store(studio).get(done.id).spec["dataset_path"] == str(submitted_copy)  # lineage reads the record
    assert json.loads((run / "progress.json").read_text())["state"] == "completed"
    assert "Ultralytics" in submission.logs(studio.ray_address, done.id)  # Ray kept the log too
    ended = lambda: submission.ray_job(studio.ray_address, done.id).ended  # noqa: E731 (the worker exits after it records)
    wait_for(studio, ended, seconds=60, why="Ray to see the worker exit")
    record = submission.ray_job(studio.ray_address, done.id)
    assert record.status == "SUCCEEDED" and record.metadata["owner"] == "local"


def test_two_gpu_jobs_run_at_once_on_two_nodes_and_a_third_waits_in_the_studio_queue(
    studio: Settings, small_dataset: Path
) -> None:
    first, second, third = (submit_training(spec(small_dataset, f"gpu-{n}", epochs=LONG), studio) for n in range(3))
    both = (first.id, second.id)
    wait_for(
        studio,
        lambda: all(job(studio, i).state is JobState.RUNNING and job(studio, i).node for i in both),
        why="two jobs running",
    )
    assert job(studio, first.id).node != job(studio, second.id).node
    assert job(studio, third.id).state is JobState.QUEUED
    assert submission.ray_job(studio.ray_address, third.id) is None  # it waits in the studio's queue, not Ray's
    report = cluster_status(studio)
    assert sorted(j for n in report["nodes"] for j in n["jobs"]) == sorted(both)
    assert [j["state"] for j in report["jobs"] if j["id"] == third.id] == ["queued"]

    wait_for(studio, lambda: epochs_done(studio, first.id) >= 1, why="an epoch of the first job")
    stop_job(first.id, studio)
    wait_for(studio, lambda: job(studio, first.id).state.is_final(), why="the stopped job to end")
    stopped = job(studio, first.id)
    assert stopped.state is JobState.COMPLETED
    assert (Path(stopped.run_dir) / "weights" / "best.pt").exists()  # Stop keeps finalised weights
    wait_for(studio, lambda: job(studio, third.id).state is JobState.RUNNING, why="the third job to start")

    for victim in (second.id, third.id):
        cancelled = cancel_job(victim, studio, grace_s=5)
        assert cancelled.state is JobState.CANCELLED
        assert worker_processes(victim) == []  # no process left on any node
        assert submission.ray_job(studio.ray_address, victim).status == "STOPPED"


def test_a_restarted_studio_reattaches_to_a_running_job_and_a_killed_worker_leaves_it_failed_and_resumable(
    studio: Settings, small_dataset: Path, environment: dict
) -> None:
    started = submit_training(spec(small_dataset, "killed", epochs=LONG), studio)
    wait_for(studio, lambda: epochs_done(studio, started.id) >= 1, why="a completed epoch")
    wait_for(studio, lambda: (Path(started.run_dir) / "weights" / "resumable.pt").exists(), why="a checkpoint")

    def studio_process(*args: str) -> subprocess.CompletedProcess:
        env = {**environment, "PYTHONPATH": str(PROJECT_ROOT)}
        return subprocess.run([sys.executable, "-m", "mlcore", *args], env=env, capture_output=True, text=True)

    seen = json.loads(studio_process("cluster", "status", "--json").stdout)  # a new studio process
    mine = [j for j in seen["jobs"] if j["id"] == started.id]
    assert mine and mine[0]["state"] == "running" and mine[0]["ray_status"] == "RUNNING" and mine[0]["node"]
    assert "Ultralytics" in studio_process("jobs", "logs", started.id).stdout

    for process in worker_processes(started.id):
        process.send_signal(signal.SIGKILL)
    wait_for(studio, lambda: job(studio, started.id).state.is_final(), why="the killed job to be seen")
    failed = job(studio, started.id)
    assert failed.state is JobState.FAILED
    assert "Ray reports it failed" in failed.error and "Last log lines" in failed.error
    assert "Resume from the last completed epoch" in failed.error
    resumed = resume_training("ray/killed", studio)
    assert resumed.spec["mode"] == "resume"
    cancel_job(resumed.id, studio, grace_s=5)


def test_a_node_that_stops_mid_job_makes_its_job_failed_not_stuck(
    studio: Settings, small_dataset: Path, cluster: LocalRayCluster
) -> None:
    jobs = [submit_training(spec(small_dataset, f"node-{n}", epochs=LONG), studio) for n in range(2)]
    wait_for(
        studio,
        lambda: all(job(studio, j.id).state is JobState.RUNNING and job(studio, j.id).node for j in jobs),
        why="a job on each node",
    )
    head = next(n.node_id for n in read_nodes(studio.ray_address) if n.is_head)
    victim = next(j for j in jobs if job(studio, j.id).node != head)
    survivor = next(j for j in jobs if j is not victim)
    cluster.nodes[1].kill()  # the worker node goes away with everything on it
    wait_for(studio, lambda: job(studio, victim.id).state.is_final(), seconds=240, why="the lost node's job to fail")
    lost = job(studio, victim.id)
    assert lost.state is JobState.FAILED and "Resume from the last completed epoch" in lost.error
    dead = [n for n in cluster_status(studio)["nodes"] if not n["alive"]]
    assert [n["node_id"] for n in dead] == [lost.node]
    assert job(studio, survivor.id).state is JobState.RUNNING
    cancel_job(survivor.id, studio, grace_s=5)


def test_the_status_page_shows_the_cluster_with_its_dead_node(
    studio: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from mlcore.devices import torch_probe
    from mlcore.devices.torch_probe import TorchProbe

    monkeypatch.setattr(torch_probe, "probe_torch", lambda *_a, **_k: TorchProbe(ok=True, torch_version="2.14.1"))
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "status.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert "Ray cluster" in [h.value for h in at.subheader]
    assert any("New jobs run on the Ray cluster" in s.value for s in at.success)
    assert any("is dead" in e.value and "resumed" in e.value for e in at.error)
    nodes = next(frame.value for frame in at.dataframe if "Node" in frame.value.columns)
    assert sorted(nodes["State"]) == ["alive", "dead"] and set(nodes["GPUs"]) == {1}


def test_while_the_head_is_down_jobs_are_left_alone_and_after_its_restart_they_are_failed_and_resumable(
    studio: Settings, small_dataset: Path, cluster: LocalRayCluster
) -> None:
    started = submit_training(spec(small_dataset, "head", epochs=LONG), studio)
    wait_for(studio, lambda: epochs_done(studio, started.id) >= 1, why="a completed epoch")
    for node in cluster.nodes:
        node.kill()
    problem = refresh(studio)
    assert problem and "cannot be reached" in problem and "jobs run on this machine" in problem
    assert job(studio, started.id).state is JobState.RUNNING  # nobody can tell: it is not failed on a guess
    cluster.restart_head()
    wait_for(studio, lambda: job(studio, started.id).state.is_final(), why="the forgotten job to be failed")
    forgotten = job(studio, started.id)
    assert forgotten.state is JobState.FAILED and "no longer knows this job" in forgotten.error
    assert "Resume from the last completed epoch" in forgotten.error
    wait_for(studio, lambda: refresh(studio) is None, seconds=90, why="the restarted cluster to pass its check")
