"""Every measurement runs at the size the model was trained at unless the user asks otherwise, and says so:
a model trained at 320 and evaluated at 640 scored 0.300 mAP50 instead of 0.898, without a word."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mlcore.core import paths
from mlcore.core.settings import Settings, load_settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.engine.trained_size import SizeChoice, image_size, trained_imgsz
from mlcore.evaluation.spec import EvalSpec
from mlcore.evaluation.submit import submit_evaluation
from mlcore.jobs.store import JobState, open_store
from mlcore.quality.spec import AuditSpec, SelectSpec
from mlcore.quality.submit import submit_audit, submit_selection
from mlcore.registry.ab import ComparisonRequest, start_comparison
from tests.conftest import PROJECT_ROOT
from tests.registry_fixture import run_with_weights
from tests.run_fixture import cpu_held, occupy_the_cpu


def test_the_size_choice_warns_only_when_the_size_is_not_the_models_own() -> None:
    assert SizeChoice(320, 320).warning is None
    assert SizeChoice(320, 320).describe() == "at 320 px, the size the model was trained at"
    other = SizeChoice(640, 320)
    assert "runs at 640 px, but the model was trained at 320 px" in other.warning
    assert other.describe() == "at 640 px (trained at 320 px)"
    assert "unknown" in SizeChoice(640, None).warning
    assert SizeChoice.of({"imgsz": 640}) is None  # a record from before the trained size was kept
    assert SizeChoice.of({"imgsz": 640, "trained_imgsz": 320}) == other


def test_the_trained_size_is_read_from_a_run_an_export_and_a_checkpoint(
    settings: Settings, trained: dict[str, str], tmp_path: Path
) -> None:
    run = run_with_weights(settings.outputs_root, "logos/v1", tmp_path, imgsz=320)
    assert trained_imgsz(run, settings) == 320 and image_size(0, run, settings) == SizeChoice(320, 320)
    assert image_size(640, run, settings) == SizeChoice(640, 320)
    export = settings.outputs_root / paths.EXPORTS_DIR / "v1_best" / "best_openvino_model"
    export.mkdir(parents=True)
    (export.parent / paths.MODEL_CARD).write_text(json.dumps({"imgsz": 256, "formats": []}))
    assert trained_imgsz(export, settings) == 256 and trained_imgsz(export / "best.xml", settings) == 256
    loose = tmp_path / "models" / "mine.pt"  # no run folder beside it: the checkpoint's own train_args
    loose.parent.mkdir()
    shutil.copy(trained["model"], loose)
    assert trained_imgsz(loose, settings) == 128
    assert trained_imgsz(tmp_path / "nothing.pt", settings) is None


def _cancel(job_id: str, settings: Settings) -> None:
    open_store(settings).transition(job_id, JobState.CANCELLED)  # only the request was checked


def test_evaluations_and_quality_jobs_take_the_trained_size_by_default(tiny: dict[str, str]) -> None:
    settings = load_settings()
    with cpu_held(settings):  # the jobs stay queued: only their requests are checked
        asked = {
            "evaluation": EvalSpec(model_path=tiny["model"], dataset_path=tiny["data"], split="val"),
            "evaluation at 256": EvalSpec(model_path=tiny["model"], dataset_path=tiny["data"], split="val", imgsz=256),
            "audit": AuditSpec(model_path=tiny["model"], dataset_path=tiny["data"], split="val"),
            "selection": SelectSpec(model_path=tiny["model"], images=str(Path(tiny["data"]) / "images" / "val")),
        }
        submit = {EvalSpec: submit_evaluation, AuditSpec: submit_audit, SelectSpec: submit_selection}
        jobs = {name: submit[type(spec)](spec, settings) for name, spec in asked.items()}
        for job in jobs.values():
            open_store(settings).transition(job.id, JobState.CANCELLED)
    sizes = {name: SizeChoice.of(job.spec) for name, job in jobs.items()}
    assert sizes["evaluation"] == sizes["audit"] == sizes["selection"] == SizeChoice(128, 128)
    assert "runs at 256 px, but the model was trained at 128 px" in sizes["evaluation at 256"].warning


def test_an_ab_comparison_evaluates_each_model_at_its_own_size(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    make_demo_dataset(data, images=20, imgsz=64, seed=3)
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(tmp_path))
    settings = load_settings()
    occupy_the_cpu(settings)
    run_with_weights(settings.outputs_root, "logos/small", data, seed=1, imgsz=320)
    run_with_weights(settings.outputs_root, "logos/large", data, seed=2, imgsz=640)
    outcome = start_comparison(ComparisonRequest("logos/small", "logos/large", str(data), "test"), settings)
    sizes = sorted(open_store(settings).get(j).spec["imgsz"] for j in outcome.pending)
    assert sizes == [320, 640]


def test_the_evaluation_form_names_the_trained_size_and_warns_of_another(
    settings: Settings, small_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(small_dataset.parent))
    run_with_weights(settings.outputs_root, "logos/v1", small_dataset, imgsz=320)
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "evaluation.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.number_input(key="eval.imgsz").value == 0
    assert any("Trained at 320 px." in c.value for c in at.caption)
    assert not any("trained at 320 px" in w.value for w in at.warning)
    at.number_input(key="eval.imgsz").set_value(640).run()
    assert any("runs at 640 px, but the model was trained at 320 px" in w.value for w in at.warning)
