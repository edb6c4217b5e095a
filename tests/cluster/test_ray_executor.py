"""The Ray executor without a cluster: placement from Ray's view of the nodes, the release check, an
unreachable address (jobs stay on this machine), and no Ray import when no address is configured."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlcore.cluster.connection import ClusterUnavailable, check_reachable, installed_ray
from mlcore.cluster.nodes import Node, NodeGpu
from mlcore.core.settings import Settings, load_settings
from mlcore.jobs.ray_executor import RayExecutor
from mlcore.jobs.scheduler import schedule
from mlcore.jobs.store import Job, JobState, open_store
from mlcore.system.cluster import cluster_status
from tests.conftest import PROJECT_ROOT, free_port


def node(name: str, gpus: int, alive: bool = True, free_mb: list[float] | None = None) -> Node:
    readings = tuple(NodeGpu(i, "GPU", 24_000.0, 24_000.0 - f) for i, f in enumerate(free_mb or []))
    return Node(name, "10.0.0.1", name, alive, name == "head", 8.0, gpus, readings)


def ray_job(job_id: str, device: str = "auto", node_id: str | None = None, state: JobState = JobState.RUNNING) -> Job:
    return Job(
        job_id,
        "training",
        state,
        {"device": device},
        f"/runs/{job_id}",
        "ana",
        None,
        None,
        "gpu:0",
        None,
        0.0,
        0.0,
        None,
        executor="ray",
        node=node_id,
    )


def executor(settings: Settings, *nodes: Node) -> RayExecutor:
    ray = RayExecutor(settings)
    ray.__dict__["nodes"] = list(nodes)  # what read_nodes would have returned this step
    return ray


@pytest.fixture
def settings_with_ray(settings: Settings) -> Settings:
    return load_settings({**settings.environment, "ML_STUDIO_RAY_ADDRESS": "http://head:8265"})


def test_one_gpu_jobs_fill_the_free_node_and_then_wait(settings_with_ray: Settings) -> None:
    ray = executor(settings_with_ray, node("head", 1), node("worker", 1))
    new = ray_job("new", state=JobState.QUEUED)
    assert ray.place(new, []).device == "gpu:0"
    assert ray.place(new, [ray_job("a", node_id="head")]).device == "gpu:0"  # the worker node is free
    assert ray.place(new, [ray_job("a", node_id="head"), ray_job("b", node_id="worker")]).waits
    assert ray.place(new, [ray_job("a", node_id="head"), ray_job("b")]).waits  # b is submitted, not yet placed
    assert ray.place(new, [ray_job("a", node_id="head"), ray_job("b", node_id="gone")]).waits


def test_two_gpus_must_be_free_on_one_node(settings_with_ray: Settings) -> None:
    ray = executor(settings_with_ray, node("head", 2), node("worker", 2))
    pair = ray_job("pair", device="0,1", state=JobState.QUEUED)
    assert ray.place(pair, []).device == "gpu:0,1"
    one_each = [ray_job("a", node_id="head"), ray_job("b", node_id="worker")]
    assert ray.place(pair, one_each).waits  # two GPUs free in all, but not on one node
    assert ray.place(pair, one_each[:1]).device == "gpu:0,1"


def test_more_gpus_than_the_largest_node_is_refused_with_its_count(settings_with_ray: Settings) -> None:
    ray = executor(settings_with_ray, node("head", 2), node("worker", 4), node("dead", 8, alive=False))
    refusal = ray.refusal({"device": "0,1,2,3,4"})
    assert refusal and "largest node" in refusal and "has 4" in refusal
    assert ray.place(ray_job("big", device="0,1,2,3,4", state=JobState.QUEUED), []).impossible == refusal
    assert ray.refusal({"device": "0,1,2,3"}) is None


def test_gpus_whose_memory_is_taken_by_others_are_not_counted(settings_with_ray: Settings) -> None:
    ray = executor(
        settings_with_ray, node("head", 2, free_mb=[500.0, 500.0]), node("worker", 2, free_mb=[9000.0, 100.0])
    )
    one = ray_job("one", state=JobState.QUEUED)
    assert ray.place(one, []).device == "gpu:0"
    assert ray.place(one, [ray_job("a", node_id="worker")]).waits  # head: both full; worker: its one usable is held


def test_cpu_jobs_take_no_gpu_one_per_node(settings_with_ray: Settings) -> None:
    ray = executor(settings_with_ray, node("head", 1), node("worker", 0))
    cpu = ray_job("cpu", device="cpu", state=JobState.QUEUED)
    assert ray.place(cpu, []).device == "cpu"
    assert ray.place(cpu, [ray_job("a", device="cpu")]).device == "cpu"
    assert ray.place(cpu, [ray_job("a", device="cpu"), ray_job("b", device="cpu")]).waits
    assert ray.gpus_wanted({"device": "auto"}) == 1
    assert executor(settings_with_ray, node("head", 0)).gpus_wanted({"device": "auto"}) == 0


class _Answer(BaseHTTPRequestHandler):
    body: dict = {}

    def do_GET(self) -> None:  # noqa: N802 (the handler's name)
        data = json.dumps(self.body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def fake_head() -> Iterator[tuple[str, type[_Answer]]]:
    handler = type("Handler", (_Answer,), {"body": {}})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_study_coordinator_holds_no_device_and_the_cluster_counts_its_devices(settings_with_ray: Settings) -> None:
    ray = executor(settings_with_ray, node("head", 2, free_mb=[20_000, 100]), node("worker", 1), node("cpu", 0))
    coordinator = replace(ray_job("study", device="none", node_id="head"), device="none")
    assert ray.place(ray_job("study", device="none", state=JobState.QUEUED), []).device == "none"
    cpu_job = ray_job("c", device="cpu", state=JobState.QUEUED)
    on_cpu = [
        replace(ray_job(f"c{i}", device="cpu", node_id=n), device="cpu") for i, n in enumerate(("head", "worker"))
    ]
    assert ray.place(cpu_job, [*on_cpu, coordinator]).device == "cpu"  # the coordinator takes no node's CPU slot
    assert ray.capacity("auto") == 2  # one roomy GPU on the head (the other is full), one on the worker
    assert ray.capacity("cpu") == 3


def test_a_cluster_of_another_ray_release_is_refused_with_the_release_to_install(fake_head) -> None:
    address, handler = fake_head
    handler.body = {"version": "4", "ray_version": "2.9.3"}
    with pytest.raises(ClusterUnavailable) as refused:
        check_reachable(address)
    assert "runs Ray 2.9.3" in str(refused.value) and f"the studio has Ray {installed_ray()}" in str(refused.value)
    assert "ray[default]==2.9.3" in str(refused.value)
    handler.body = {"hello": "world"}
    with pytest.raises(ClusterUnavailable, match="not as a Ray job server"):
        check_reachable(address)


def test_an_unreachable_cluster_is_said_and_jobs_run_on_this_machine(settings: Settings) -> None:
    address = f"http://127.0.0.1:{free_port()}"
    studio = load_settings({**settings.environment, "ML_STUDIO_RAY_ADDRESS": address})
    report = cluster_status(studio)
    assert report["configured"] and not report["ok"] and report["executor"] == "local"
    assert "cannot be reached" in report["message"] and "ML_STUDIO_RAY_ADDRESS" in report["message"]
    job = open_store(studio).submit("training", {"device": "cpu"}, str(studio.outputs_root / "run"))
    started: list[str] = []
    step = schedule(studio, launcher=lambda j, device, s: (started.append(j.id) or 0, 0.0))
    assert step.started == (job.id,) and started == [job.id]
    assert "cannot be reached" in (step.problem or "")
    assert open_store(studio).get(job.id).executor == "local"


def test_without_a_ray_address_nothing_of_ray_is_imported(settings: Settings) -> None:
    code = (
        "import sys; from mlcore.core.settings import load_settings; from mlcore.jobs.scheduler import schedule;"
        "from mlcore.system.cluster import cluster_status; import mlcore.worker, mlcore.api.app, mlcore.cli.main;"
        "s = load_settings(); schedule(s); r = cluster_status(s); assert r['executor'] == 'local', r;"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    env = {k: v for k, v in settings.environment.items() if k != "ML_STUDIO_RAY_ADDRESS"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_cli_and_the_api_say_where_jobs_run(settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api
    from mlcore.cli.main import main

    assert main(["cluster", "status", "--json"]) == 0
    api = TestClient(create_api(settings, token=""))
    answer = api.get("/api/v1/ml/cluster")
    assert answer.status_code == 200 and answer.json()["executor"] == "local"
    assert "ML_STUDIO_RAY_ADDRESS" in answer.json()["message"]


def test_a_two_gpu_job_is_one_ray_job_with_two_gpus_and_ultralytics_ddp_inside(
    settings_with_ray: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcore.cluster import submission
    from mlcore.devices.leases import ultralytics_device
    from mlcore.worker import device_on_node

    sent: dict = {}
    monkeypatch.setattr(submission, "submit", lambda address, job_id, entrypoint, **given: sent.update(given))
    folder = str(settings_with_ray.outputs_root / "runs" / "pair")
    pair = replace(ray_job("pair", device="0,1", state=JobState.STARTING), run_dir=folder)
    ray = executor(settings_with_ray, node("head", 2))
    ray.launch(pair, ray.place(pair, []).device)
    assert sent["gpus"] == 2 and sent["cpus"] == 1
    assert "CUDA_VISIBLE_DEVICES" not in sent["env"]  # Ray sets it to the two GPUs it gives the job
    assert sent["env"]["ML_STUDIO_EXECUTOR"] == "ray" and sent["env"]["YOLO_OFFLINE"] == "1"
    assert sent["metadata"] == {"owner": "ana", "kind": "training", "studio_job": "pair", "run_dir": folder}

    on_node = load_settings({**settings_with_ray.environment, "CUDA_VISIBLE_DEVICES": "3,5"})
    lease = device_on_node(pair, on_node)
    assert lease == "gpu:3,5" and ultralytics_device(lease) == "0,1"  # Ultralytics runs DDP on both

    ray.launch(replace(pair, spec={"device": "cpu"}), "cpu")
    assert sent["gpus"] == 0 and sent["env"]["CUDA_VISIBLE_DEVICES"] == ""  # Ray would show it every GPU


def test_with_a_cluster_the_job_database_keeps_a_journal_that_other_machines_can_share(
    settings: Settings, settings_with_ray: Settings
) -> None:
    import sqlite3
    from contextlib import closing

    from mlcore.core import paths
    from mlcore.jobs.store import JobStore

    def mode() -> str:
        with closing(sqlite3.connect(settings.outputs_root / paths.JOBS_DB)) as db:
            return db.execute("PRAGMA journal_mode").fetchone()[0]

    open_store(settings)
    assert mode() == "wal"  # one machine: write-ahead log
    open_store(settings_with_ray).submit("training", {}, "/runs/a")
    assert mode() == "delete"  # WAL's shared memory cannot span machines; a rollback journal can
    JobStore(settings.outputs_root / paths.JOBS_DB)  # a reader that does not know the settings
    assert mode() == "delete" and len(open_store(settings_with_ray).list()) == 1
