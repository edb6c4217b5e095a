"""Results to a real S3 server: a finished training's folder and a registered version appear in the results bucket
with hashes that match the local files; with the server away the job still completes and the upload waits, then
goes through once the server is back."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlcore.core.settings import Settings, load_settings
from mlcore.storage.push import (
    MANIFEST,
    PENDING,
    UPLOADED,
    UPLOADING,
    presigned_url,
    push_results,
    retry_pending,
    upload_state,
)
from tests.conftest import PROJECT_ROOT
from tests.s3_server import SECRET_KEY, SeaweedServer, seaweedfs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    with seaweedfs(tmp_path_factory.mktemp("s3"), buckets=("results", "photos", "delivered")) as running:
        yield running


@pytest.fixture(scope="module")
def studio(server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory, small_dataset: Path) -> dict:
    outputs = tmp_path_factory.mktemp("studio") / "out"
    env = {
        **os.environ,
        **server.env,
        "ML_STUDIO_OUTPUTS": str(outputs),
        "ML_STUDIO_RESULTS_URL": "s3://results/studio",
        "ML_STUDIO_DATASET_ROOTS": str(small_dataset.parent),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    return {"env": env, "settings": load_settings(env), "outputs": outputs}


def _mlcore(studio: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlcore", *args], env=studio["env"], capture_output=True, text=True, timeout=600
    )


def settled(folder: Path, timeout_s: float = 120) -> dict:
    """The folder's upload state once its worker has done with it (the job is completed first)."""
    deadline = time.monotonic() + timeout_s
    while (state := upload_state(folder)) is None or state["state"] == UPLOADING:
        assert time.monotonic() < deadline, f"{folder} was never uploaded"
        time.sleep(0.3)
    return state


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(studio: dict, small_dataset: Path) -> Path:
    done = _mlcore(
        studio, "train", "--data", str(small_dataset), "--epochs", "1", "--imgsz", "64", "--batch", "8",
        "--workers", "0", "--device", "cpu", "--project", "up", "--experiment", "one", "--no-plots", "--wait",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return studio["outputs"] / "trainings" / "up" / "one"


def test_a_finished_training_is_in_the_bucket_with_matching_hashes(
    server: SeaweedServer, studio: dict, trained: Path
) -> None:
    state = settled(trained)
    assert state["state"] == UPLOADED and state["url"] == "s3://results/studio/trainings/up/one/"
    s3 = server.client()
    best = trained / "weights" / "best.pt"
    head = s3.head_object(Bucket="results", Key="studio/trainings/up/one/weights/best.pt")
    assert head["Metadata"]["sha256"] == _sha(best) and head["ContentLength"] == best.stat().st_size
    manifest = json.loads(s3.get_object(Bucket="results", Key=f"studio/trainings/up/one/{MANIFEST}")["Body"].read())
    assert manifest["files"]["weights/best.pt"]["sha256"] == _sha(best)
    assert manifest["files"]["train.log"]["sha256"] == _sha(trained / "train.log")
    again = push_results(trained, "training", studio["settings"])
    assert again is not None and again["sent"] == 0  # nothing changed: nothing sent again
    log = (trained / "train.log").read_text()
    assert SECRET_KEY not in log and SECRET_KEY not in json.dumps(state)


def test_a_registered_version_is_uploaded_and_downloads_through_a_presigned_link(
    server: SeaweedServer, studio: dict, trained: Path
) -> None:
    done = _mlcore(studio, "models", "register", "up/one", "--name", "uploaded-model")
    assert done.returncode == 0, done.stderr
    version = studio["outputs"] / "registry" / "uploaded-model" / "v1"
    weights = next(version.glob("*.pt"))
    assert upload_state(version)["state"] == UPLOADED
    link = presigned_url(weights, studio["settings"])
    assert link and link.startswith(server.endpoint) and SECRET_KEY not in link
    with urllib.request.urlopen(link, timeout=30) as answer:  # noqa: S310 - the test's own loopback server
        assert hashlib.sha256(answer.read()).hexdigest() == _sha(weights)
    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api

    with TestClient(create_api(studio["settings"])) as client:
        answer = client.get("/api/v1/ml/models/uploaded-model/versions/1/weights", follow_redirects=False)
        assert answer.status_code == 307 and answer.headers["location"].startswith(server.endpoint)
        assert SECRET_KEY not in answer.headers["location"]


def test_a_batch_prediction_reads_images_from_one_bucket_and_writes_to_another(
    server: SeaweedServer, studio: dict, trained: Path, small_dataset: Path
) -> None:
    s3 = server.client()
    images = sorted((small_dataset / "images" / "val").iterdir())
    for image in images:
        s3.upload_file(str(image), "photos", f"cam1/{image.name}")
    done = _mlcore(
        studio, "predict", "up/one", "s3://photos/cam1", "--to", "s3://delivered/cam1", "--device", "cpu",
        "--wait", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    folder = Path(summary["output_dir"]) if "output_dir" in summary else Path(summary["folder"])
    assert settled(folder)["state"] == UPLOADED
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="delivered", Prefix="cam1/")["Contents"]}
    relative = folder.relative_to(studio["outputs"]).as_posix()
    assert f"cam1/{relative}/summary.json" in keys and f"cam1/{relative}/{MANIFEST}" in keys
    assert not any(k.startswith("studio/predictions") for k in _keys(s3, "results"))  # its own place, not the default


def _keys(s3, bucket: str) -> set[str]:  # noqa: ANN001
    return {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])}  # fmt: skip


def test_with_the_server_away_the_job_completes_and_the_upload_waits_until_it_is_back(
    server: SeaweedServer, studio: dict, small_dataset: Path
) -> None:
    server.stop()
    try:
        done = _mlcore(
            studio, "train", "--data", str(small_dataset), "--epochs", "1", "--imgsz", "64", "--batch", "8",
            "--workers", "0", "--device", "cpu", "--project", "up", "--experiment", "away", "--no-plots", "--wait",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        run = studio["outputs"] / "trainings" / "up" / "away"
        state = settled(run)
        assert state["state"] == PENDING and "cannot be reached" in state["error"]
        listed = json.loads(_mlcore(studio, "jobs", "list", "--json").stdout)
        assert next(j for j in listed if j["run_dir"] == str(run))["state"] == "completed"
    finally:
        server.restart()
    settings: Settings = studio["settings"]
    retried = retry_pending(settings, min_wait_s=0)
    assert [r["state"] for r in retried] == [UPLOADED]
    assert upload_state(run)["state"] == UPLOADED
    head = server.client().head_object(Bucket="results", Key="studio/trainings/up/away/weights/best.pt")
    assert head["Metadata"]["sha256"] == _sha(run / "weights" / "best.pt")
