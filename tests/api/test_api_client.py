"""The original system's Python client, against a real `python -m mlcore serve` on a free port.

The client is the one of the original description (validate, start a training, poll `progress` until
`completed`), with the address of the test server, one epoch instead of 100, and three fields a
laptop without a GPU needs (`imgsz`, `device`, `workers`). Then a model evaluation by the same API,
and the command line sees the same jobs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mlcore.datasets.demo import make_demo_dataset
from tests.conftest import PROJECT_ROOT, api_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    work = tmp_path_factory.mktemp("api")
    outputs = work / "ml_outputs"
    make_demo_dataset(outputs / "datasets" / "dataset", images=24, imgsz=96, seed=5)  # the client's "dataset"
    with api_server(work, {"ML_STUDIO_OUTPUTS": str(outputs)}, ready="/openapi.json") as url:
        yield url, outputs


def test_the_original_client_validates_trains_and_polls_until_completed(api: tuple[str, Path]) -> None:
    base, outputs = api
    seen: list[float] = []

    # --- the original client (サンプルコード), with the test server's address ---
    response = requests.post(
        f"{base}/api/v1/ml/dataset/validate",
        json={"dataset_path": "dataset", "check_images": True, "check_labels": True, "validate_format": True},
    )
    print(response.json())
    report = response.json()

    response = requests.post(
        f"{base}/api/v1/ml/training/start",
        json={
            "mode": "full",
            "dataset_path": "dataset",
            "model_architecture": "yolov8s",
            "epochs": 1,
            "batch_size": 16,
            "learning_rate": 0.01,
            "imgsz": 64,
            "device": "cpu",
            "workers": 0,
        },
    )
    training_id = response.json()["training_id"]

    deadline = time.monotonic() + 600
    while True:
        response = requests.get(f"{base}/api/v1/ml/training/status/{training_id}")
        status = response.json()
        print(f"Progress: {status['progress']}%")
        seen.append(status["progress"])
        if status["status"] in ["completed", "failed"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    # --- end of the original client ---

    assert report["status"] == "completed" and report["verdict"] in ("ready", "ready_with_warnings")
    assert status["status"] == "completed", status["error"]
    assert status["progress"] == 100.0 and seen == sorted(seen)  # never goes backwards
    assert status["epochs_done"] == 1 and status["metrics"]["map50"] is not None
    assert Path(status["weights"]["best"]).is_file()

    jobs = subprocess.run(
        [sys.executable, "-m", "mlcore", "jobs", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        env={**os.environ, "ML_STUDIO_OUTPUTS": str(outputs)},
    )
    assert training_id in [job["id"] for job in json.loads(jobs.stdout)]  # the command line sees the API's job

    evaluation = requests.post(
        f"{base}/api/v1/ml/model/validate",
        json={
            "model_path": status["weights"]["best"],
            "test_dataset_path": "dataset",
            "confidence_threshold": 0.25,
            "iou_threshold": 0.45,
            "save_predictions": True,
            "analyze_errors": True,
            "imgsz": 64,
            "device": "cpu",
        },
    )
    assert evaluation.status_code == 202, evaluation.text
    evaluation_id = evaluation.json()["evaluation_id"]
    deadline = time.monotonic() + 300
    while (done := requests.get(f"{base}/api/v1/ml/model/validate/{evaluation_id}").json())["status"] not in (
        "completed",
        "failed",
        "cancelled",
    ) and time.monotonic() < deadline:
        time.sleep(1)
    assert done["status"] == "completed", done["error"]
    assert {"precision", "recall", "f1", "accuracy", "map50", "map50_95", "error_types"} <= set(done["metrics"])
    assert (Path(done["output_dir"]) / "metrics.json").is_file()

    export = requests.post(f"{base}/api/v1/ml/model/visualize", json={"model_path": status["weights"]["best"]})
    assert export.status_code == 200 and "report.html" in export.json()["files"]
    weights = requests.get(f"{base}/api/v1/ml/runs/{status['run']}/weights/best.pt")
    assert weights.status_code == 200 and weights.content == Path(status["weights"]["best"]).read_bytes()
