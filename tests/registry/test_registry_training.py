"""The registry with real CPU trainings: a chain of fine-tunings traced back to the first version, and an
A/B comparison of two trained versions made with real evaluations through the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlcore.compare.verdict import VERDICTS
from mlcore.core import paths
from mlcore.core.settings import load_settings
from mlcore.registry.lineage import base_chain
from mlcore.registry.store import read_model
from tests.conftest import mlcore

pytestmark = pytest.mark.slow


def _run(outputs: Path, data: str, *args: str) -> str:
    proc = mlcore(*args, env_outputs=outputs, extra_env={"ML_STUDIO_DATASET_ROOTS": data})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_a_chain_of_fine_tunings_leads_back_to_the_first_version_and_ab_compares_them(
    tmp_path: Path, trained: dict[str, str]
) -> None:
    outputs, data = tmp_path / "ml_outputs", trained["data"]
    base = outputs / paths.MODELS_DIR / "tiny.pt"
    base.parent.mkdir(parents=True)
    shutil.copyfile(trained["model"], base)  # a trusted base model, trained earlier
    roots = str(Path(data).parent)
    _run(outputs, roots, "models", "register", str(base), "--name", "logo-detector", "--reason", "the first model")
    settings = load_settings({"ML_STUDIO_OUTPUTS": str(outputs)})
    first = read_model(settings, "logo-detector")
    v1_copy = first.weights(first.version(1))

    common = (
        "--data",
        data,
        "--epochs",
        "2",
        "--imgsz",
        "64",
        "--batch",
        "8",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--project",
        "chain",
        "--mode",
        "transfer",
        "--no-plots",
        "--wait",
    )
    _run(outputs, roots, "train", *common, "--experiment", "second", "--base-model", str(v1_copy))
    _run(outputs, roots, "models", "register", "chain/second", "--name", "logo-detector")
    second_weights = outputs / paths.TRAININGS_DIR / "chain" / "second" / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS
    _run(outputs, roots, "train", *common, "--experiment", "third", "--base-model", str(second_weights))
    registered = json.loads(
        _run(outputs, roots, "models", "register", "chain/third", "--name", "logo-detector", "--json")
    )
    assert registered["version"] == 3

    model = read_model(settings, "logo-detector")
    third = model.version(3)
    assert third.lineage["run_name"] == "chain/third" and third.lineage["spec"]["mode"] == "transfer"
    assert third.lineage["dataset"]["path"] == data and third.lineage["dataset"]["fingerprint"]
    assert [c["version"] for c in base_chain(third, settings)] == ["logo-detector:v2", "logo-detector:v1"]
    shown = json.loads(_run(outputs, roots, "models", "show", "logo-detector", "--json"))
    assert [b["version"] for b in shown["versions"][2]["lineage"]["base_chain"]] == [
        "logo-detector:v2",
        "logo-detector:v1",
    ]

    doc = json.loads(
        _run(
            outputs,
            roots,
            "models",
            "compare",
            "logo-detector:1",
            "logo-detector:3",
            "--data",
            data,
            "--split",
            "val",
            "--imgsz",
            "64",
            "--json",
        )
    )
    assert doc["a"]["label"] == "logo-detector v1" and doc["b"]["label"] == "logo-detector v3"
    assert doc["images"] > 0 and doc["verdict"] in VERDICTS
    for row in doc["metrics"].values():
        assert row["delta"] == pytest.approx(row["b"] - row["a"])
        assert row["ci_low"] <= row["ci_high"]
    evaluations = sorted((outputs / paths.VALIDATIONS_DIR).iterdir())
    assert len(evaluations) == 2  # one real evaluation per model
    again = json.loads(
        _run(
            outputs,
            roots,
            "models",
            "compare",
            "logo-detector:1",
            "logo-detector:3",
            "--data",
            data,
            "--split",
            "val",
            "--imgsz",
            "64",
            "--json",
        )
    )
    assert len(sorted((outputs / paths.VALIDATIONS_DIR).iterdir())) == 2  # reused, not evaluated again
    assert again["metrics"] == doc["metrics"]  # seeded: the same intervals
