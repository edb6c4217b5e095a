"""One way to name a model, for every command, route and page: a path (absolute, or relative to the outputs
folder or the working folder), a run, a registered version or alias, an export folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlcore.core import paths
from mlcore.core.settings import Settings, load_settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.jobs.store import open_store
from mlcore.registry.promotion import set_alias
from mlcore.registry.references import MODEL_FORMS, ModelNameError, UnknownModel, model_path, resolve_reference
from mlcore.registry.registration import register_model
from mlcore.registry.store import PRODUCTION, read_model
from tests.conftest import mlcore
from tests.registry_fixture import fake_weights, run_with_weights
from tests.run_fixture import occupy_the_cpu


@pytest.fixture
def world(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A run logos/v1, registered as logo-detector v1 (production), and two finished exports of it."""
    data = tmp_path / "data"
    make_demo_dataset(data, images=12, imgsz=64, seed=2)
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(tmp_path))
    weights = run_with_weights(settings.outputs_root, "logos/v1", data, seed=1)
    register_model(str(weights), "logo-detector", settings, "ana")
    set_alias(settings, "logo-detector", PRODUCTION, 1, "ana", "first", override=True)
    exports = settings.outputs_root / paths.EXPORTS_DIR
    one = _export(exports / "v1_best_1", weights, ["onnx"])
    two = _export(exports / "v1_best_2", weights, ["onnx", "torchscript"])
    return {"data": data, "weights": weights, "one": one, "two": two}


def _export(folder: Path, source: Path, formats: list[str]) -> Path:
    suffix = {"onnx": ".onnx", "torchscript": ".torchscript"}
    made = [fake_weights(folder / f"best{suffix[f]}", seed=n) for n, f in enumerate(formats)]
    (folder / paths.EXPORT_CONFIG).write_text(f"model_path: {source}\n")
    entries = [{"format": f, "path": str(m), "precision": "fp32"} for f, m in zip(formats, made, strict=True)]
    card = {"imgsz": 64, "classes": {}, "source": {"path": str(source), "run": "logos/v1"}, "formats": entries}
    (folder / paths.MODEL_CARD).write_text(json.dumps(card))
    return folder


def test_every_form_names_the_same_model(
    settings: Settings, world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights, registered = world["weights"], read_model(settings, "logo-detector")
    copy = registered.weights(registered.version(1))
    monkeypatch.chdir(tmp_path)  # the working folder is neither the outputs folder nor the studio's
    named = {
        str(weights): weights,
        "trainings/logos/v1/weights/best.pt": weights,  # relative to the outputs folder, as the README writes it
        os.path.relpath(weights, tmp_path): weights,  # relative to the working folder
        "logos/v1": weights,  # a run
        str(weights.parent.parent): weights,
        "logo-detector:1": copy,
        "logo-detector:v1": copy,
        "logo-detector@production": copy,
        "exports/v1_best_1": world["one"] / "best.onnx",  # an export folder with one format
        str(world["one"] / "best.onnx"): world["one"] / "best.onnx",
    }
    for text, path in named.items():
        assert resolve_reference(text, settings).path == path, text
    assert resolve_reference("logos/v1", settings).label == "logos/v1"
    assert resolve_reference("logo-detector@production", settings).label == "logo-detector v1"


def test_a_name_that_fits_no_form_gets_one_message_listing_the_forms(
    settings: Settings, world: dict[str, Path]
) -> None:
    for text in ("trainings/logos/v9/weights/best.pt", "logos/v9", "nothing-here.pt", "", "/etc/passwd"):
        with pytest.raises(ModelNameError) as refused:
            resolve_reference(text, settings)
        assert MODEL_FORMS in str(refused.value), text
    with pytest.raises(UnknownModel, match="has no alias 'staging'.*Name a model as"):
        resolve_reference("logo-detector@staging", settings)
    with pytest.raises(
        ModelNameError, match=r"holds 2 exported models; name one of them: .*best\.onnx; .*best\.torchscript"
    ):
        resolve_reference("exports/v1_best_2", settings)
    with pytest.raises(
        ModelNameError, match=r"v1_best_1/best\.onnx is an exported model; an export needs the PyTorch .* name logos/v1"
    ):
        model_path("exports/v1_best_1", settings, weights_only=True, purpose="an export")


@pytest.mark.slow  # child processes or a real server: the full suite runs it
def test_the_cli_and_the_api_take_every_form(settings: Settings, world: dict[str, Path]) -> None:
    occupy_the_cpu(settings)  # the jobs stay queued: only their requests are checked
    copy = str(resolve_reference("logo-detector@production", settings).path)
    done = mlcore("export", "logo-detector@production", "--data", str(world["data"]), env_outputs=settings.outputs_root)
    # the name reached the registered copy, whose bytes (random in this test) are then refused as no checkpoint
    assert f"{copy} is not a YOLO checkpoint" in done.stderr, done.stderr

    refused = mlcore("evaluate", "--model", "logos/v9", "--data", str(world["data"]), env_outputs=settings.outputs_root)
    assert refused.returncode == 2 and "Name a model as" in refused.stderr and "Traceback" not in refused.stderr

    from mlcore.api.app import create_api

    client = TestClient(create_api(load_settings()))  # with the dataset roots the world set
    answer = client.post(
        "/api/v1/ml/model/validate",
        json={"model_path": "trainings/logos/v1/weights/best.pt", "test_dataset_path": str(world["data"])},
    )
    assert answer.status_code == 202, answer.text
    assert open_store(settings).get(answer.json()["evaluation_id"]).spec["model_path"] == str(world["weights"])
    answer = client.post("/api/v1/ml/model/export", json={"model_path": "exports/v1_best_1"})
    assert answer.status_code == 400 and "is an exported model" in answer.json()["detail"], answer.text
    answer = client.post(
        "/api/v1/ml/audits", json={"model_path": "nope@production", "dataset_path": str(world["data"])}
    )
    assert answer.status_code == 404 and "Name a model as" in answer.json()["detail"], answer.text
