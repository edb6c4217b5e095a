"""The registry and comparisons over HTTP: register, read, move aliases through the gate, compare, download,
and the refusals (404 for what does not exist, 409 when the gate refuses, 400 for bad requests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlcore.api.app import create_api
from mlcore.core import paths
from mlcore.core.settings import Settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.registry.store import read_model
from tests.evaluation_fixture import made_up_detections
from tests.registry_fixture import recorded_evaluation, run_with_weights, shifted
from tests.run_fixture import occupy_the_cpu

API = "/api/v1/ml"


@pytest.fixture
def client(settings: Settings) -> TestClient:
    with TestClient(create_api(settings)) as test_client:
        yield test_client


@pytest.fixture
def data(settings: Settings) -> Path:
    folder = settings.outputs_root / paths.DATASETS_DIR / "logos"
    make_demo_dataset(folder, images=60, imgsz=96, seed=2)
    for n in (1, 2):
        run_with_weights(settings.outputs_root, f"logos/v{n}", folder, seed=n)
    return folder


def test_register_show_promote_compare_and_download(client: TestClient, settings: Settings, data: Path) -> None:
    for n in (1, 2):
        answer = client.post(f"{API}/models/register", json={"run": f"logos/v{n}", "name": "logo-detector"})
        assert answer.status_code == 201, answer.text
        assert answer.json()["version"] == n
    model = read_model(settings, "logo-detector")
    good = made_up_detections(data, "test", seed=3)
    for n, detections in ((1, good), (2, shifted(good, 0.6))):
        recorded_evaluation(
            settings.outputs_root, data, model.weights(model.version(n)), detections=detections, name=f"e{n}"
        )
    listing = client.get(f"{API}/models").json()
    assert listing[0]["name"] == "logo-detector" and listing[0]["versions"] == 2

    promoted = client.post(f"{API}/models/logo-detector/aliases", json={"alias": "production", "version": 1})
    assert promoted.status_code == 200 and promoted.json()["aliases"] == {"production": 1}
    refused = client.post(f"{API}/models/logo-detector/aliases", json={"alias": "production", "version": 2})
    assert refused.status_code == 409 and refused.json()["error"] == "gate_refused"
    assert "no A/B comparison with production v1" in refused.json()["detail"]

    body = {"a": "logo-detector@production", "b": "logo-detector:2", "dataset_path": str(data), "imgsz": 640}
    compared = client.post(f"{API}/models/compare", json=body)
    assert compared.status_code == 200, compared.text
    doc = compared.json()
    assert doc["verdict"] == "a_better" and doc["images"] == len(good.images)
    assert {"a", "b", "delta", "ci_low", "ci_high"} <= set(doc["metrics"]["map50_95"])
    name = Path(doc["output_dir"]).name
    assert client.get(f"{API}/models/comparisons/{name}").json()["verdict"] == "a_better"
    report = client.get(f"{API}/models/comparisons/{name}/report")
    assert report.status_code == 200 and "A is better" in report.text
    still = client.post(f"{API}/models/logo-detector/aliases", json={"alias": "production", "version": 2})
    assert still.status_code == 409 and "significantly worse" in still.json()["detail"]

    weights = client.get(f"{API}/models/logo-detector/versions/2/weights")
    assert weights.status_code == 200 and weights.content == model.weights(model.version(2)).read_bytes()
    assert "digraph" in client.get(f"{API}/models/logo-detector/lineage").json()["dot"]
    removed = client.post(f"{API}/models/logo-detector/aliases/production/remove")
    assert removed.status_code == 200 and removed.json()["aliases"] == {}
    archived = client.post(f"{API}/models/logo-detector/versions/1/archive", json={"reason": "superseded"})
    assert archived.json()["versions"][0]["archived"] is True
    on_archived = client.post(f"{API}/models/logo-detector/aliases", json={"alias": "candidate", "version": 1})
    assert on_archived.status_code == 400 and "archived" in on_archived.json()["detail"]


def test_what_does_not_exist_is_404_and_bad_requests_are_400(
    client: TestClient, settings: Settings, data: Path
) -> None:
    occupy_the_cpu(settings)  # the queued evaluation stays queued
    assert client.get(f"{API}/models/nope").status_code == 404
    assert client.get(f"{API}/models/nope/versions/1/weights").status_code == 404
    assert client.get(f"{API}/models/comparisons/nope").status_code == 404
    bad_name = client.post(f"{API}/models/register", json={"run": "logos/v1", "name": "Bad Name"})
    assert bad_name.status_code == 400 and "is not allowed" in bad_name.json()["detail"]
    client.post(f"{API}/models/register", json={"run": "logos/v1", "name": "logo-detector"})
    missing = client.post(f"{API}/models/logo-detector/aliases", json={"alias": "production", "version": 9})
    assert missing.status_code == 404
    body = {"a": "logo-detector:1", "b": "logo-detector@nope", "dataset_path": str(data)}
    assert client.post(f"{API}/models/compare", json=body).status_code == 404
    queued = client.post(f"{API}/models/compare", json={**body, "b": "logo-detector:1"})
    assert queued.status_code == 202 and len(queued.json()["pending"]) == 1  # the evaluation is queued first
    assert client.post(f"{API}/models/compare", json={**body, "split": "nope"}).status_code == 422
