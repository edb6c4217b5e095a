"""A first training's time, before it starts: a few of its batches timed in a child process on its device."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.datasets.loader import load_dataset
from mlcore.training.estimate import time_a_few_batches
from mlcore.training.spec import TrainSpec
from tests.conftest import PROJECT_ROOT, mlcore, tree_digest
from tests.run_fixture import occupy_the_cpu


def _spec(data: Path, **changes: object) -> TrainSpec:
    return TrainSpec(
        **{
            "dataset_path": str(data),
            "epochs": 30,
            "imgsz": 64,
            "batch_size": 4,
            "workers": 0,
            "device": "cpu",
            **changes,
        }
    )


def test_timing_beside_a_running_job_is_refused_with_the_reason(page_roots: Settings) -> None:
    occupy_the_cpu(page_roots)
    data = page_roots.dataset_roots[0] / "small"
    with pytest.raises(SubmitError, match="a job is using the CPU now: batches timed beside it would be slower"):
        time_a_few_batches(_spec(data), page_roots)
    refused = mlcore("train", "--data", str(data), "--device", "cpu", "--estimate", env_outputs=page_roots.outputs_root)
    assert refused.returncode == 2 and "a job is using the CPU now" in refused.stderr
    from mlcore.api.app import create_api

    answer = TestClient(create_api(page_roots)).post(
        "/api/v1/ml/training/estimate", json={"dataset_path": "small", "device": "cpu"}
    )
    assert answer.status_code == 400 and "a job is using the CPU now" in answer.json()["detail"]


@pytest.mark.slow
def test_a_first_training_on_the_page_is_estimated_from_timed_batches(page_roots: Settings) -> None:
    data = page_roots.dataset_roots[0] / "small"
    before = tree_digest(data)
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "training.py"), default_timeout=300).run()
    at.number_input(key="train.epochs").set_value(30)
    at.number_input(key="train.imgsz").set_value(64)
    at.number_input(key="train.batch").set_value(4)
    at.number_input(key="train.workers").set_value(0)
    at.selectbox(key="train.device").set_value("cpu").run()
    assert any("No earlier run of yolov8n at 64 px here" in c.value for c in at.caption)
    at.button(key="train.time").click().run()
    assert not at.exception, at.exception
    batches = math.ceil(len(load_dataset(data).splits["train"]) / 4)
    caption = next(c.value for c in at.caption if "per batch" in c.value)
    assert f"s per batch × {batches} batches" in caption and "for 30 epochs on the CPU" in caption
    assert tree_digest(data) == before  # the dataset was only read
    assert not list((page_roots.outputs_root / paths.STAGING_DIR).glob("timing-*"))  # the scratch folder is gone
