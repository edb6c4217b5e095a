"""The precision an export runs at: OpenVINO compiles at the hint of the precision chosen (f32 for fp32, not the
CPU's bfloat16 default), bf16 is offered only where OpenVINO reads BF16 in the CPU, the model card records the
hint, the predictor compiles with it, and a failed parity check names the precision that ran."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.core.spec import SpecError
from mlcore.evaluation.analysis import Detections
from mlcore.export import openvino_runtime, precision
from mlcore.export.formats import why_unavailable
from mlcore.export.parity import ParityContext, compare
from mlcore.export.spec import ExportSpec
from mlcore.export.submit import format_precision, submit_export
from mlcore.export.task import inference_precision
from tests.conftest import PROJECT_ROOT, engine_env_for

WITHOUT_BF16 = ("FP32", "INT8", "BIN", "EXPORT_IMPORT")  # an AMD EPYC without AVX-512, as OpenVINO reads it
WITH_BF16 = ("FP32", "BF16", "INT8", "BIN", "EXPORT_IMPORT")  # a Xeon with AMX
BASE = ["fp32", "fp16", "int8"]


@pytest.fixture
def cpu(monkeypatch: pytest.MonkeyPatch):
    """Set what OpenVINO reports of this CPU: cpu(WITH_BF16)."""
    return lambda capabilities: monkeypatch.setattr(precision, "cpu_capabilities", lambda: capabilities)


def test_each_precision_names_the_hint_openvino_compiles_with() -> None:
    assert inference_precision("openvino", "fp32") == "f32"  # never the CPU's own default (bf16 with AMX)
    assert inference_precision("openvino", "fp16") == "f32"  # weights stored at fp16, computed in f32 on the CPU
    assert inference_precision("openvino", "int8") == "f32"  # the layers not quantized, as nncf calibrated them
    assert inference_precision("openvino", "bf16") == "bf16"
    assert inference_precision("onnx", "fp32") is None and format_precision("onnx", "bf16") == "fp32"


def test_bf16_is_refused_on_a_cpu_without_it_and_offered_where_openvino_reads_it(cpu, settings: Settings) -> None:
    cpu(WITHOUT_BF16)
    assert precision.offered_precisions() == ("fp32", "fp16", "int8")
    why = why_unavailable("openvino", "bf16")
    assert why is not None and "AVX512-BF16 or AMX" in why and "FP32, INT8, BIN, EXPORT_IMPORT" in why, why
    model = settings.model_roots[0] / "best.pt"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(b"refused before it is read")
    with pytest.raises(SubmitError, match="OpenVINO at bf16 is not offered on this machine.*BF16"):
        submit_export(ExportSpec(model_path=str(model), formats=("openvino",), precision="bf16"), settings)
    assert not (settings.outputs_root / paths.EXPORTS_DIR).exists()
    cpu(WITH_BF16)
    assert precision.offered_precisions() == ("fp32", "fp16", "int8", "bf16")
    assert why_unavailable("openvino", "bf16") is None
    with pytest.raises(SpecError, match=r"precision='bf16'.*add formats=\['openvino'\]"):
        ExportSpec(model_path=str(model), formats=("onnx",), precision="bf16")


def test_the_api_refuses_bf16_on_a_cpu_without_it(cpu, settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api

    cpu(WITHOUT_BF16)
    model = settings.model_roots[0] / "best.pt"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(b"refused before it is read")
    with TestClient(create_api(settings)) as client:
        body = {"model_path": str(model), "formats": ["openvino"], "precision": "bf16", "parity": False}
        answer = client.post("/api/v1/ml/model/export", json=body)
    assert answer.status_code == 400 and "AVX512-BF16 or AMX" in answer.json()["detail"], answer.text


def test_the_page_offers_bf16_only_where_the_cpu_has_it(cpu, settings: Settings) -> None:
    model = settings.model_roots[0] / "best.pt"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(b"listed, not loaded")
    for capabilities, offered in ((WITHOUT_BF16, BASE), (WITH_BF16, [*BASE, "bf16"])):
        cpu(capabilities)
        st.cache_data.clear()
        at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "export.py"), default_timeout=60).run()
        assert not at.exception, at.exception
        radio = at.radio(key="export.precision")
        assert list(radio.options) == offered
        assert ("AVX512-BF16 or AMX" in radio.help) is (capabilities == WITHOUT_BF16)


def _detections(conf: np.ndarray, shift: float = 0.0) -> Detections:
    """Eight images with one object each, predicted with `conf` and boxes moved by `shift` pixels."""
    n = len(conf)
    boxes = np.array([[10.0, 10.0, 50.0, 50.0]] * n)
    return Detections(
        images=[f"images/test/{i}.jpg" for i in range(n)],
        sizes=np.full((n, 2), 64),
        names={0: "logo"},
        gt_image=np.arange(n),
        gt_cls=np.zeros(n, dtype=int),
        gt_box=boxes,
        pred_image=np.arange(n),
        pred_cls=np.zeros(n, dtype=int),
        pred_conf=conf,
        pred_box=boxes + shift,
        imgsz=64,
    )


def test_a_failed_parity_check_names_the_precision_openvino_ran_at() -> None:
    source = _detections(np.linspace(0.9, 0.5, 8))
    export = _detections(np.linspace(0.9, 0.5, 8), shift=3.0)  # every box a little off: mAP50-95 drops
    context = {"dynamic": False, "export_imgsz": 64, "check_imgsz": 64, "trained_imgsz": 64}
    lowered = compare(source, export, ParityContext(precision="fp32", ran_at="bf16", **context), tolerance=0.005)
    assert not lowered["passed"] and lowered["ran_at"] == "bf16"
    assert "OpenVINO ran this fp32 export at bf16, not at the f32" in lowered["causes"][0]
    assert "INFERENCE_PRECISION_HINT=f32" in lowered["verdict"]
    assert not any("runtime versions" in cause for cause in lowered["causes"])
    chosen = compare(source, export, ParityContext(precision="bf16", ran_at="bf16", **context), tolerance=0.005)
    assert "it ran in bfloat16" in chosen["causes"][0] and not any("runtime versions" in c for c in chosen["causes"])
    raised = compare(source, export, ParityContext(precision="bf16", ran_at="f32", **context), tolerance=0.005)
    assert "ran this bf16 export at f32" in raised["causes"][0] and "cannot compute at bf16" in raised["causes"][0]
    as_asked = compare(source, export, ParityContext(precision="fp32", ran_at="f32", **context), tolerance=0.005)
    assert "runtime versions" in as_asked["causes"][0]  # nothing else explains it


def test_the_hint_of_an_openvino_folder_comes_from_its_model_card_else_f32(tmp_path: Path) -> None:
    folder = tmp_path / "exports" / "best_20261206" / "best_openvino_model"
    folder.mkdir(parents=True)
    assert openvino_runtime.hint_for(folder) == "f32"  # no card: full precision, not the CPU's default
    entry = {"format": "openvino", "path": "/elsewhere/best_openvino_model", "inference_precision": "bf16"}
    (folder.parent / paths.MODEL_CARD).write_text(json.dumps({"formats": [entry]}))
    assert openvino_runtime.hint_for(folder) == "bf16"  # matched by name: the export folder may have moved
    assert openvino_runtime.hint_for(folder / "best.xml") == "bf16"
    with pytest.raises(ValueError, match="hint='fp32'"):
        openvino_runtime.pin(folder, "fp32")


@pytest.mark.slow
def test_openvino_compiles_an_fp32_export_at_f32_and_the_predictor_at_its_cards_hint(tmp_path: Path) -> None:
    outputs = tmp_path / "out"
    outputs.mkdir()
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "tests" / "openvino_compile_child.py"), str(tmp_path / "work")],
        env=engine_env_for(outputs),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    timer, predictor = answer["timer"], answer["predictor"]
    assert timer["configs"][-1]["INFERENCE_PRECISION_HINT"] == "f32", timer  # no card yet: f32, on every CPU
    assert timer["ran_at"] == "f32"
    assert predictor["configs"][-1]["INFERENCE_PRECISION_HINT"] == "bf16", predictor  # the card's hint
    assert predictor["ran_at"] == ("bf16" if "BF16" in answer["capabilities"] else "f32")  # what OpenVINO can do
    validator = answer["validator"]  # an evaluation job (an A/B comparison) validates through Ultralytics
    assert validator["configs"][-1]["INFERENCE_PRECISION_HINT"] == "bf16" and validator["ran_at"] == predictor["ran_at"]


@pytest.mark.slow  # child processes or a real server: the full suite runs it
def test_the_card_times_each_format_with_the_cpu_threads_the_predictor_serves_it_with(tmp_path: Path) -> None:
    """The latency on an export card describes how the predictor will run that format: the timer once gave
    every runtime all the cores while the predictor gives them to PyTorch alone."""
    outputs = tmp_path / "out"
    outputs.mkdir()
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "tests" / "cpu_threads_child.py"), str(tmp_path / "work")],
        env=engine_env_for(outputs),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["pt"] == {"timer": answer["cores"], "predictor": answer["cores"]}, answer  # PyTorch: every core
    assert answer["onnx"]["timer"] == answer["onnx"]["predictor"], answer  # ONNX Runtime: as the predictor has it
