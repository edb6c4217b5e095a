"""The HTTP API in process (FastAPI's test client): every endpoint, its errors, the token and CORS.

Trainings and evaluations submitted here stay queued: a job that looks like a running training of
this test process holds the CPU (occupy_the_cpu), so no worker starts. The real client flow, with a real server and
a real training, is in test_api_client.py.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlcore.api.app import create_api
from mlcore.cli.main import main as cli_main
from mlcore.core import paths
from mlcore.core.settings import Settings
from mlcore.jobs.store import JobState, JobStore
from mlcore.system.status import collect_status
from tests.run_fixture import make_run, occupy_the_cpu

API = "/api/v1/ml"
TOKEN = "t0ken-for-the-tests-0123456789"


@pytest.fixture
def dataset(settings: Settings, small_dataset: Path) -> Path:
    """The small dataset copied under the outputs' datasets/ (a dataset root)."""
    return Path(shutil.copytree(small_dataset, settings.outputs_root / paths.DATASETS_DIR / "logos"))


@pytest.fixture
def client(settings: Settings) -> TestClient:
    with TestClient(create_api(settings)) as test_client:
        yield test_client


def test_status_is_the_same_object_as_the_command_line_status(client: TestClient, settings: Settings) -> None:
    answer = client.get(f"{API}/status", params={"torch": False})
    assert answer.status_code == 200
    expected = collect_status(settings, include_torch=False).to_dict()
    assert set(answer.json()) == set(expected)
    assert answer.json()["host"]["cores_logical"] == expected["host"]["cores_logical"]


def test_dataset_validation_with_the_original_fields_returns_the_report(client: TestClient, dataset: Path) -> None:
    body = {"dataset_path": str(dataset), "check_images": True, "check_labels": True, "validate_format": True}
    answer = client.post(f"{API}/dataset/validate", json=body, params={"wait": 60})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["status"] == "completed" and report["progress"] == 100.0
    assert report["verdict"] and sum(split["images"] for split in report["counts"].values()) == 24
    assert Path(report["report_folder"]).is_dir()  # saved like the app's and the CLI's reports
    by_name = client.post(f"{API}/dataset/validate", json={"dataset_path": "logos"}, params={"wait": 60})
    assert by_name.status_code == 200 and by_name.json()["dataset_path"] == str(dataset)  # looked up in the roots


def test_a_validation_that_takes_longer_than_the_wait_answers_202_and_can_be_polled(
    client: TestClient, dataset: Path
) -> None:
    answer = client.post(f"{API}/dataset/validate", json={"dataset_path": str(dataset)}, params={"wait": 0})
    assert answer.status_code in (200, 202)
    check_id = answer.json()["validation_id"]
    for _ in range(600):
        polled = client.get(f"{API}/dataset/validate/{check_id}").json()
        if polled["status"] != "running":
            break
        assert 0 <= polled["progress"] <= 100
        time.sleep(0.1)
    assert polled["status"] == "completed" and polled["counts"]["train"]["images"] == 17
    assert client.get(f"{API}/dataset/validate/nope").status_code == 404


def test_a_symlink_leaving_the_roots_is_refused(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (settings.outputs_root / "datasets").mkdir(exist_ok=True)
    (settings.outputs_root / "datasets" / "link").symlink_to(outside)
    answer = client.post(f"{API}/dataset/validate", json={"dataset_path": "link"})
    assert answer.status_code == 400 and "outside the allowed folders" in answer.json()["detail"]


def test_a_training_started_by_the_api_is_queued_in_the_shared_job_database(
    client: TestClient, settings: Settings, dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    occupy_the_cpu(settings)
    body = {
        "mode": "full",
        "dataset_path": "logos",
        "model_architecture": "yolov8s",
        "epochs": 3,
        "batch_size": 8,
        "learning_rate": 0.01,
        "imgsz": 64,
        "device": "cpu",
        "experiment": "from-api",
    }
    answer = client.post(f"{API}/training/start", json=body)
    assert answer.status_code == 202, answer.text
    training_id = answer.json()["training_id"]
    status = client.get(f"{API}/training/status/{training_id}").json()
    assert status["status"] == "queued" and status["progress"] == 0.0 and status["queue_position"] == 1
    assert status["output_dir"].endswith("trainings/default/from-api") and status["error"] is None
    assert status["model_architecture"] == "yolov8s" and status["epochs"] == 3
    assert training_id in [t["training_id"] for t in client.get(f"{API}/training/status").json()]

    assert cli_main(["jobs", "list"]) == 0  # the command line sees the same job
    assert training_id in capsys.readouterr().out
    job = JobStore(settings.outputs_root / paths.JOBS_DB).get(training_id)
    assert job.spec["learning_rate"] == 0.01 and job.spec["batch_size"] == 8 and job.owner == "local"

    cancelled = client.post(f"{API}/training/{training_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"{API}/training/{training_id}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    assert client.post(f"{API}/training/{training_id}/stop").status_code == 409
    assert "training_id" in client.get(f"{API}/training/{training_id}/log").json()


@pytest.mark.parametrize(
    ("endpoint", "body", "status", "words"),
    [
        ("dataset/validate", {"dataset_path": "/etc"}, 400, "outside the allowed folders"),
        ("dataset/validate", {"dataset_path": "no/such/dataset"}, 400, "does not exist"),
        ("dataset/validate", {"dataset_path": "logos/\x00evil"}, 400, "NUL byte"),
        ("dataset/validate", {"dataset_path": "../../../../etc"}, 400, "outside the allowed folders"),
        ("dataset/validate", {"dataset_path": "x", "check_image": True}, 422, "check_image"),
        ("dataset/validate", {"check_images": True}, 422, "dataset_path"),
        ("dataset/validate", {"dataset_path": "x", "check_images": "maybe"}, 422, "check_images"),
        (
            "training/start",
            {"mode": "full", "dataset_path": "logos", "model_architecture": "yolov9z"},
            422,
            "model_architecture",
        ),
        ("training/start", {"mode": "full", "dataset_path": "logos", "epochs": 0}, 422, "epochs=0"),
        ("training/start", {"mode": "full", "dataset_path": "logos", "batch_size": 0}, 422, "batch_size"),
        ("training/start", {"mode": "full", "dataset_path": "logos", "project": "../escape"}, 422, "project"),
        ("training/start", {"mode": "sideways", "dataset_path": "logos"}, 422, "mode"),
        ("training/start", {"mode": "full", "dataset_path": "/etc"}, 400, "outside the allowed folders"),
        (
            "training/start",
            {"mode": "transfer", "dataset_path": "logos", "base_model_path": "/tmp/evil.pt"},
            400,
            "pickle",
        ),
        ("training/start", {"mode": "resume"}, 422, "resume_from"),
        ("training/start", {"mode": "resume", "resume_from": "no/such-run"}, 400, "no/such-run"),
        ("training/start", {"mode": "full", "dataset_path": "logos", "epochz": 3}, 422, "epochz"),
    ],
)
def test_bad_requests_get_4xx_with_a_reason(
    client: TestClient, dataset: Path, endpoint: str, body: dict, status: int, words: str
) -> None:
    answer = client.post(f"{API}/{endpoint}", json=body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"] and answer.json()["error"]


def test_unknown_ids_are_404(client: TestClient) -> None:
    for method, path in (
        ("get", "training/status/abc"),
        ("post", "training/abc/stop"),
        ("post", "training/abc/cancel"),
        ("get", "training/abc/log"),
        ("get", "model/validate/abc"),
        ("post", "model/validate/abc/cancel"),
    ):
        answer = getattr(client, method)(f"{API}/{path}")
        assert answer.status_code == 404, path
        assert "abc" in answer.json()["detail"]


def test_a_runs_metrics_job_is_not_an_evaluation_on_the_evaluation_routes(
    client: TestClient, settings: Settings
) -> None:
    """An evaluation job of another task (a run's metrics) is listed nowhere there, and read or cancelled by id there
    it answers as an unknown id does; once it was read there as an evaluation of no model and no split."""
    occupy_the_cpu(settings)
    run = make_run(settings.outputs_root, "logos/v1", epochs=4)
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    metrics = store.submit("evaluation", {"task": "run_metrics", "weights": str(run / "weights" / "best.pt")}, str(run))
    unknown = client.get(f"{API}/model/validate/no-such-job")
    assert unknown.status_code == 404
    for method, path in (("get", f"model/validate/{metrics.id}"), ("post", f"model/validate/{metrics.id}/cancel")):
        answer = getattr(client, method)(f"{API}/{path}")
        assert answer.status_code == 404, answer.text
        assert answer.json()["detail"] == unknown.json()["detail"].replace("no-such-job", metrics.id)
    assert client.get(f"{API}/model/validate").json() == []
    assert store.get(metrics.id).state is JobState.QUEUED  # the refused cancel left it alone


def test_runs_are_listed_and_their_weights_downloaded(client: TestClient, settings: Settings) -> None:
    make_run(settings.outputs_root, "logos/v1", epochs=4)
    runs = client.get(f"{API}/runs").json()
    assert [r["run"] for r in runs] == ["logos/v1"] and runs[0]["weights"] == ["best.pt"]
    weights = client.get(f"{API}/runs/logos/v1/weights/best.pt")
    assert weights.status_code == 200 and weights.content == b"weights"
    assert client.get(f"{API}/runs/logos/v1/weights/last.pt").status_code == 404  # this run has none
    assert client.get(f"{API}/runs/logos/v1/weights/data.yaml").status_code == 400
    assert client.get(f"{API}/runs/logos/v9/weights/best.pt").status_code == 404
    assert client.get(f"{API}/runs/logos/..%2F..%2Fetc/weights/best.pt").status_code == 404


def test_visualize_writes_the_chosen_figures(client: TestClient, settings: Settings) -> None:
    run = make_run(settings.outputs_root, "logos/v1", epochs=4)
    body = {
        "model_path": str(run / "weights" / "best.pt"),
        "include_confusion_matrix": True,
        "include_pr_curve": False,
        "include_f1_curve": False,
        "include_training_history": True,
        "include_class_metrics": False,
    }
    answer = client.post(f"{API}/model/visualize", json=body)
    assert answer.status_code == 200, answer.text
    folder = Path(answer.json()["output_dir"])
    assert {"training_curves.png", "confusion_matrix.png"} <= set(answer.json()["files"])
    assert "pr_curve.png" not in answer.json()["files"]
    assert all((folder / name).stat().st_size > 0 for name in answer.json()["files"])
    missing = client.post(f"{API}/model/visualize", json={"model_path": "/etc/passwd"})
    assert missing.status_code == 400 and "no run" in missing.json()["detail"]


def test_model_validation_queues_an_evaluation_and_refuses_untrusted_models(
    client: TestClient, settings: Settings, dataset: Path, tmp_path: Path
) -> None:
    occupy_the_cpu(settings)
    run = make_run(settings.outputs_root, "logos/v1", epochs=4)
    body = {
        "model_path": str(run / "weights" / "best.pt"),
        "test_dataset_path": "logos",
        "confidence_threshold": 0.3,
        "iou_threshold": 0.5,
        "save_predictions": True,
        "analyze_errors": False,
        "split": "val",
    }
    answer = client.post(f"{API}/model/validate", json=body)
    assert answer.status_code == 202, answer.text
    evaluation_id = answer.json()["evaluation_id"]
    status = client.get(f"{API}/model/validate/{evaluation_id}").json()
    assert status["status"] == "queued" and status["metrics"] is None and status["split"] == "val"
    assert [e["evaluation_id"] for e in client.get(f"{API}/model/validate").json()] == [evaluation_id]
    assert client.post(f"{API}/model/validate/{evaluation_id}/cancel").json()["status"] == "cancelled"

    evil = tmp_path / "evil.pt"
    evil.write_bytes(b"pickle")
    refused = client.post(f"{API}/model/validate", json={**body, "model_path": str(evil)})
    assert refused.status_code == 400 and "pickle" in refused.json()["detail"]
    bad = client.post(f"{API}/model/validate", json={**body, "confidence_threshold": 2})
    assert bad.status_code == 422 and "confidence_threshold" in bad.json()["detail"]
    no_split = client.post(f"{API}/model/validate", json={**body, "split": "holdout"})
    assert no_split.status_code == 422 and "split" in no_split.json()["detail"]


def test_the_token_is_required_when_configured_and_the_caller_is_audited_as_api(
    settings: Settings, dataset: Path
) -> None:
    occupy_the_cpu(settings)
    with TestClient(create_api(settings, token=TOKEN)) as client:
        assert client.get(f"{API}/runs").status_code == 401
        wrong = client.get(f"{API}/runs", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "token" in wrong.json()["detail"]
        assert wrong.headers["www-authenticate"] == "Bearer"
        assert client.post(f"{API}/dataset/validate", json={"dataset_path": "logos"}).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get(f"{API}/runs", headers=auth).status_code == 200
        assert client.get("/openapi.json").status_code == 200  # the schema is public, the data is not
        started = client.post(
            f"{API}/training/start", headers=auth, json={"dataset_path": "logos", "epochs": 1, "imgsz": 64}
        )
        assert started.status_code == 202 and started.json()["owner"] == "api"
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    local = store.submit("training", {"mode": "full"}, str(settings.outputs_root / "x"), owner="ana@lab.example")
    with TestClient(create_api(settings, token=TOKEN)) as client:
        refused = client.post(f"{API}/training/{local.id}/cancel", headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 403 and "ana@lab.example" in refused.json()["detail"]
    assert store.get(local.id).state is JobState.QUEUED


def test_cors_is_closed_by_default_and_opens_for_configured_origins(settings: Settings) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    with TestClient(create_api(settings)) as client:
        answer = client.options(f"{API}/training/start", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
    with TestClient(create_api(settings, cors_origins=("https://lab.example",))) as client:
        allowed = client.options(f"{API}/runs", headers={**preflight, "Origin": "https://lab.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://lab.example"
        refused = client.options(f"{API}/runs", headers=preflight)
        assert refused.headers.get("access-control-allow-origin") != "https://evil.example"


def test_ui_ml_redirects_to_the_app_and_docs_are_served(client: TestClient, settings: Settings) -> None:
    answer = client.get("/ui/ml", follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"] == f"http://testserver:{settings.port}/"
    assert client.get("/docs").status_code == 200
    paths_documented = client.get("/openapi.json").json()["paths"]
    assert {
        f"{API}/status",
        f"{API}/dataset/validate",
        f"{API}/training/start",
        f"{API}/training/status",
        f"{API}/training/status/{{training_id}}",
        f"{API}/model/visualize",
        f"{API}/model/validate",
    } <= set(paths_documented)


def test_serve_refuses_a_network_address_without_a_token_and_short_tokens(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr("mlcore.core.access.SECRETS_FILES", ())
    assert cli_main(["serve", "--host", "0.0.0.0"]) == 2
    assert "without a token" in capsys.readouterr().err
    monkeypatch.setenv("ML_STUDIO_API_TOKEN", "short")
    assert cli_main(["serve"]) == 2
    assert "at least 16" in capsys.readouterr().err


def test_odd_characters_in_paths_get_4xx_not_a_crash(client: TestClient, settings: Settings) -> None:
    make_run(settings.outputs_root, "logos/v1", epochs=2)
    for endpoint, body in (
        ("model/visualize", {"model_path": "logos/\x00v1"}),
        ("model/validate", {"model_path": "/x\x00.pt", "test_dataset_path": "logos"}),
        ("training/start", {"mode": "transfer", "dataset_path": "a\x00b", "base_model_path": "\x00"}),
        ("training/start", {"mode": "resume", "resume_from": "\x00/" * 300}),
        ("dataset/validate", {"dataset_path": "é/" * 2000}),
    ):
        answer = client.post(f"{API}/{endpoint}", json=body)
        assert 400 <= answer.status_code < 500, (endpoint, answer.text)
        assert answer.json()["detail"]
