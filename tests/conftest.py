"""Shared fixtures: settings pointing at a temporary outputs root, a small demo dataset, paths."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import requests

from mlcore.core import paths
from mlcore.core.settings import Settings, load_settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.jobs.scheduler import schedule
from mlcore.jobs.store import JobState, JobStore
from mlcore.training.spec import TrainSpec
from tests.video_fixture import VideoStudio, make_video_studio

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_OUTPUT = PROJECT_ROOT / "test-output"  # screenshots and logs kept for failed browser tests


@pytest.fixture
def outputs_root(tmp_path: Path) -> Path:
    root = tmp_path / "ml_outputs"
    root.mkdir()
    return root


@pytest.fixture
def settings(outputs_root: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as the app would read them, with the outputs root in a temporary folder."""
    monkeypatch.setenv("ML_STUDIO_OUTPUTS", str(outputs_root))
    return load_settings()


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 24-image demo dataset at 96 px (read-only by convention: copy it before writing)."""
    return make_demo_dataset(tmp_path_factory.mktemp("data") / "small", images=24, imgsz=96, seed=7).root


def engine_env_for(outputs: Path) -> dict[str, str]:
    """The environment the studio gives a training process, for an outputs root of a test's own."""
    from mlcore.engine.env import engine_environment

    env = engine_environment(load_settings({**os.environ, "ML_STUDIO_OUTPUTS": str(outputs)}))
    return {**env, "PYTHONPATH": str(PROJECT_ROOT)}


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the test item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A tiny model fitted to 17 images (~50 s on 2 cores), in a studio outputs root; shared by the
    evaluation and export tests.

    Augmentation is off so that a from-scratch model learns something measurable in a test's time."""
    work = tmp_path_factory.mktemp("evaluation")
    data = work / "data"
    make_demo_dataset(data / "small", images=24, imgsz=128, seed=7)
    outputs = work / "out"
    no_augmentation = {
        "mosaic": 0.0,
        "fliplr": 0.0,
        "hsv_h": 0.0,
        "hsv_s": 0.0,
        "hsv_v": 0.0,
        "scale": 0.0,
        "translate": 0.0,
    }
    spec = TrainSpec(
        dataset_path=str(data / "small"),
        epochs=60,
        imgsz=128,
        batch_size=8,
        workers=0,
        device="cpu",
        project="t",
        experiment="tiny",
        advanced={"nbs": 8, "warmup_epochs": 0, "val": False, "plots": False, **no_augmentation},
    )
    run_dir = outputs / paths.TRAININGS_DIR / "t" / "tiny"
    train_in_worker(spec, run_dir, outputs, work)
    return {
        "ML_STUDIO_OUTPUTS": str(outputs),
        "ML_STUDIO_DATASET_ROOTS": str(data),
        "model": str(run_dir / "weights" / "best.pt"),
        "data": str(data / "small"),
    }


def train_in_worker(spec: TrainSpec, run_dir: Path, outputs: Path, work: Path) -> None:
    """The training job of `spec` into `run_dir`, run to its end by the studio's worker on the CPU, in the foreground
    (its log in `work`/train.log); CalledProcessError when the worker fails."""
    store = JobStore(outputs / paths.JOBS_DB)
    job = store.submit("training", spec.to_dict(), str(run_dir))
    store.transition(job.id, JobState.STARTING, device="cpu")
    with open(work / "train.log", "w") as log:
        subprocess.run(
            [sys.executable, "-m", "mlcore.worker", job.id],
            env=engine_env_for(outputs),
            timeout=900,
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=work,
        )


@pytest.fixture(scope="session")
def video_studio(tmp_path_factory: pytest.TempPathFactory) -> VideoStudio:
    """A detector trained on frames of demo videos, and the demo video it tracks (tests/video_fixture.py)."""
    return make_video_studio(tmp_path_factory.mktemp("video"))


@pytest.fixture
def tiny(trained: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's settings point at the tiny model's outputs root and data folder."""
    for key in ("ML_STUDIO_OUTPUTS", "ML_STUDIO_DATASET_ROOTS"):
        monkeypatch.setenv(key, trained[key])
    return trained


@pytest.fixture
def data_studio(tmp_path: Path, small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Path]:
    """Settings whose outputs and only dataset root are this test's, with a copy of the small dataset (data/logos)
    that the test may change."""
    data = tmp_path / "data"
    shutil.copytree(small_dataset, data / "logos")
    monkeypatch.setenv("ML_STUDIO_OUTPUTS", str(tmp_path / "ml_outputs"))
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(data))
    return load_settings(), data / "logos"


def tree_digest(folder: Path) -> str:
    """One hash of every file's path and bytes under `folder`: equal before and after means nothing was written."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def roots(tmp_path: Path, small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(small_dataset, data / "small")
    env = {"ML_STUDIO_OUTPUTS": str(tmp_path / "out"), "ML_STUDIO_DATASET_ROOTS": str(data)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def page_roots(tmp_path: Path, small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The small dataset as the only dataset under the roots; no GPU."""
    import streamlit as st

    from mlcore.devices import gpus
    from tests.fake_nvml import FakeNvml

    st.cache_data.clear()
    shutil.copytree(small_dataset, tmp_path / "data" / "small")
    monkeypatch.setenv("ML_STUDIO_OUTPUTS", str(tmp_path / "out"))
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(tmp_path / "data"))
    monkeypatch.setattr(gpus, "_load_nvml", lambda: FakeNvml([], init_error="NVML Shared Library Not Found"))
    return load_settings()


def tiny_spec(dataset: Path, **changes) -> TrainSpec:
    """A one-epoch training at 64 px on the CPU, without Ultralytics' plots: the smallest real training."""
    return TrainSpec(
        **{
            "dataset_path": str(dataset),
            "epochs": 1,
            "imgsz": 64,
            "batch_size": 8,
            "workers": 0,
            "device": "cpu",
            "project": "t",
            "advanced": {"plots": False},
            **changes,
        }
    )


def process_group(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, PermissionError):
        return None


def mlcore(*args: str, env_outputs: Path | None = None, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m mlcore ARGS` from the project root, as a user types it."""
    env = dict(os.environ)
    if env_outputs is not None:
        env["ML_STUDIO_OUTPUTS"] = str(env_outputs)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "mlcore", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def until_final(job_id: str, settings: Settings, timeout_s: float = 600) -> None:
    """Advance the queue, as the pages and the CLI do, until the job has ended."""
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    deadline = time.monotonic() + timeout_s
    while not store.get(job_id).state.is_final() and time.monotonic() < deadline:
        schedule(settings)
        time.sleep(0.5)


@contextmanager
def api_server(work: Path, env: dict[str, str], ready: str = "/api/v1/ml/predictor") -> Iterator[str]:
    """`python -m mlcore serve` on a free port of 127.0.0.1, with `env` over this process's environment and no token,
    its log in `work`/api.log; yields its base URL once `ready` answers, and stops its whole process group (the
    predictor process with it)."""
    port = free_port()
    environment = {**os.environ, **env, "PYTHONPATH": str(PROJECT_ROOT)}
    environment.pop("ML_STUDIO_API_TOKEN", None)
    log = (work / "api.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlcore", "serve", "--port", str(port), "--quiet"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.poll() is None, (work / "api.log").read_text()
            try:
                if requests.get(f"{url}{ready}", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
