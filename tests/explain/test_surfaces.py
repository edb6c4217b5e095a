"""D-RISE on an ONNX export, YOLO26's two heads, and the ways in: the CLI's files and JSON, the API's answers
(gradient maps at once, D-RISE as a job), and their refusals."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from mlcore.core.settings import Settings, load_settings
from mlcore.explain.explainer import explain
from mlcore.explain.saliency import DRISE, ExplainError, Target
from tests.conftest import PROJECT_ROOT

MAKE_MODELS = r"""
import sys, torch
from pathlib import Path
from ultralytics.nn.tasks import ClassificationModel, DetectionModel

out = Path(sys.argv[1])
torch.manual_seed(0)
model = DetectionModel("yolo26n.yaml", nc=5, verbose=False)
model.names = {i: n for i, n in enumerate(("solara", "aqualine", "verdant", "nimbus", "ferro"))}
for p in model.model[-1].one2one_cv3.parameters():  # trained heads differ; fresh ones start as copies
    p.data += 0.1 * torch.randn_like(p)
torch.save({"model": model, "ema": None, "optimizer": None, "epoch": -1, "train_args": {"imgsz": 128}}, out / "y26.pt")
y11 = DetectionModel("yolo11n.yaml", nc=5, verbose=False)
y11.names = model.names
torch.save({"model": y11, "ema": None, "optimizer": None, "epoch": -1, "train_args": {"imgsz": 128}}, out / "y11.pt")
cls = ClassificationModel("yolo11n-cls.yaml", nc=3, verbose=False)
cls.names = {0: "a", 1: "b", 2: "c"}
torch.save({"model": cls, "ema": None, "optimizer": None, "epoch": -1, "train_args": {"task": "classify"}},
           out / "classify.pt")
"""


@pytest.fixture(scope="module")
def place(trained: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An outputs root of this module's own: the tiny model's weights, its ONNX export, a YOLO26 checkpoint and a
    classification checkpoint in the trusted model folder."""
    outputs = tmp_path_factory.mktemp("explain") / "out"
    models = outputs / "models"
    models.mkdir(parents=True)
    shutil.copyfile(trained["model"], models / "tiny.pt")
    export = outputs / "exports" / "tiny"
    export.mkdir(parents=True)
    code = (
        "from ultralytics import YOLO; import shutil, sys; "
        "shutil.move(YOLO(sys.argv[1]).export(format='onnx', imgsz=128, verbose=False), sys.argv[2])"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "YOLO_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", code, str(models / "tiny.pt"), str(export / "best.onnx")],
                   check=True, env=env, capture_output=True, timeout=300)  # fmt: skip
    subprocess.run([sys.executable, "-c", MAKE_MODELS, str(models)], check=True, env=env, capture_output=True,
                   timeout=300)  # fmt: skip
    return {
        "ML_STUDIO_OUTPUTS": str(outputs),
        "ML_STUDIO_DATASET_ROOTS": trained["ML_STUDIO_DATASET_ROOTS"],
        "model": str(models / "tiny.pt"),
        "onnx": str(export / "best.onnx"),
        "y26": str(models / "y26.pt"),
        "y11": str(models / "y11.pt"),
        "classify": str(models / "classify.pt"),
        "data": trained["data"],
    }


@pytest.fixture
def studio(place: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in ("ML_STUDIO_OUTPUTS", "ML_STUDIO_DATASET_ROOTS"):
        monkeypatch.setenv(key, place[key])
    monkeypatch.delenv("ML_STUDIO_MODEL_ROOTS", raising=False)
    return load_settings()


def val_images(place: dict[str, str]) -> list[Path]:
    return sorted((Path(place["data"]) / "images" / "val").iterdir())


def with_boxes(place: dict[str, str]) -> list[Path]:
    """The val images the tiny model finds boxes in, most boxes first."""
    settings = load_settings({**os.environ, **place})
    counted = [
        (len(explain(Path(place["model"]), cv2.imread(str(i)), settings, imgsz=128)), i) for i in val_images(place)
    ]
    return [i for n, i in sorted(counted, key=lambda c: -c[0]) if n]


def test_drise_on_the_export_repeats_with_its_seed_and_agrees_in_place_with_the_gradient_map(
    place: dict[str, str], studio: Settings
) -> None:
    from mlcore.explain import explainer

    agreed, total = 0, 0
    for image in with_boxes(place)[:3]:
        pixels = cv2.imread(str(image))
        drise = explain(Path(place["onnx"]), pixels, studio, imgsz=128, method=DRISE, masks=1000, seed=3)
        shutil.rmtree(studio.outputs_root / "cache" / "explanations")  # computed again, not read back
        explainer._models.clear()
        again = explain(Path(place["onnx"]), pixels, studio, imgsz=128, method=DRISE, masks=1000, seed=3)
        for a, b in zip(drise, again, strict=True):
            np.testing.assert_allclose(a.map, b.map, atol=1e-3)
        gradient = explain(Path(place["model"]), pixels, studio, imgsz=128, targets=[m.target for m in drise])
        for d, g in zip(drise, gradient, strict=True):
            total += 1
            agreed += d.peak_inside and g.peak_inside
    assert total >= 2 and agreed >= total - 1, f"both peaks inside the box for {agreed} of {total} boxes"


def test_yolo11_and_yolo26s_two_heads_are_explained_and_a_model_without_the_head_asked_for_says_so(
    place: dict[str, str], studio: Settings
) -> None:
    pixels = cv2.imread(str(val_images(place)[0]))
    target = [Target((20.0, 20.0, 70.0, 80.0), 2, "label")]
    many = explain(Path(place["y26"]), pixels, studio, imgsz=128, targets=target)
    one = explain(Path(place["y26"]), pixels, studio, imgsz=128, targets=target, nms_free=True)
    assert many[0].map.shape == one[0].map.shape == pixels.shape[:2]
    assert not np.allclose(many[0].map, one[0].map)  # two heads, two sets of weights
    (eleven,) = explain(Path(place["y11"]), pixels, studio, imgsz=128, targets=target)
    assert eleven.map.shape == pixels.shape[:2] and eleven.map.max() == pytest.approx(1.0)
    with pytest.raises(ExplainError, match="no NMS-free"):
        explain(Path(place["model"]), pixels, studio, imgsz=128, targets=target, nms_free=True)
    with pytest.raises(ExplainError, match="classify model; explanations are for detection models"):
        explain(Path(place["classify"]), pixels, studio, imgsz=128, targets=target)
    with pytest.raises(ExplainError, match="is an export: it has no gradients"):
        explain(Path(place["onnx"]), pixels, studio, imgsz=128, method="gradient")


def mlcore(place: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    env.update({k: place[k] for k in ("ML_STUDIO_OUTPUTS", "ML_STUDIO_DATASET_ROOTS")})
    env.pop("ML_STUDIO_MODEL_ROOTS", None)
    return subprocess.run([sys.executable, "-m", "mlcore", *args], env=env, capture_output=True, text=True, timeout=300)


def test_the_cli_writes_an_overlay_and_a_16_bit_map_per_box_and_prints_them(
    place: dict[str, str], tmp_path: Path
) -> None:
    image = with_boxes(place)[0]
    done = mlcore(place, "explain", place["model"], str(image), "--all", "--out", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["method"] == "gradient" and document["imgsz"] == 128 and document["boxes"]
    h, w = cv2.imread(str(image)).shape[:2]
    for box in document["boxes"]:
        assert set(box) >= {"index", "class", "confidence", "box", "energy_inside", "map", "overlay"}
        assert Path(box["map"]).name == f"{image.stem}_box{box['index']}_map.png"
        raw = cv2.imread(box["map"], cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint16 and raw.shape == (h, w) and raw.max() == 65535
        assert cv2.imread(box["overlay"]).shape == (h, w, 3)
    text = mlcore(place, "explain", place["model"], str(image), "--box", "0", "--out", str(tmp_path / "one"))
    assert text.returncode == 0 and "box 0:" in text.stdout and "% of the map inside" in text.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("{model}", "{not_image}"), "is not an image OpenCV can read"),
        (("{model}", "{image}", "--box", "99"), "there is no box 99"),
        (("{model}", "{image}", "--class", "dino"), "the model has no class 'dino'"),
        (("{classify}", "{image}"), "classify model"),
        (("{outside}", "{image}"), "outside the allowed folders"),
        (("{onnx}", "{image}", "--method", "gradient"), "has no gradients to read"),
    ],
)
def test_the_cli_refuses_with_the_reason(
    place: dict[str, str], studio: Settings, tmp_path: Path, args: tuple, message: str, capsys: pytest.CaptureFixture
) -> None:
    from mlcore.cli.main import main

    (tmp_path / "notes.jpg").write_text("not an image")
    outside = tmp_path / "elsewhere.pt"
    shutil.copyfile(place["model"], outside)
    values = {**place, "image": str(val_images(place)[0]), "not_image": str(tmp_path / "notes.jpg")}
    values["outside"] = str(outside)
    assert main(["explain", *(a.format(**values) for a in args)]) == 2  # in this process: the same command line
    assert message in capsys.readouterr().err


@pytest.fixture
def client(studio: Settings) -> Iterator:
    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api

    with TestClient(create_api(studio)) as test_client:
        yield test_client


def test_the_api_answers_gradient_maps_at_once_and_d_rise_as_a_job(
    place: dict[str, str], studio: Settings, client
) -> None:
    image = with_boxes(place)[0]
    sent = {"file": (image.name, image.read_bytes(), "image/jpeg")}
    answer = client.post("/api/v1/ml/explain", files=sent, data={"model_path": place["model"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["method"] == "gradient" and body["imgsz"] == 128 and body["boxes"]
    h, w = cv2.imread(str(image)).shape[:2]
    first = body["boxes"][0]
    raw = cv2.imdecode(np.frombuffer(base64.b64decode(first["map_png"]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert raw.shape == (h, w) and raw.dtype == np.uint16
    missed = json.dumps([{"box": first["box"], "class_id": (first["class_id"] + 1) % 5, "role": "missed"}])
    own = client.post("/api/v1/ml/explain", data={"model_path": place["model"], "image": str(image), "targets": missed})
    assert own.status_code == 200, own.text
    assert own.json()["boxes"][0]["role"] == "missed" and own.json()["boxes"][0]["confidence"] < 0.5
    refused = client.post("/api/v1/ml/explain", files=sent, data={"model_path": place["model"], "box": "40"})
    assert refused.status_code == 422 and "there is no box 40" in refused.json()["detail"]
    outside = client.post("/api/v1/ml/explain", data={"model_path": place["model"], "image": "/etc/hostname"})
    assert outside.status_code == 400 and "outside the allowed folders" in outside.json()["detail"]

    queued = client.post(
        "/api/v1/ml/explain", files=sent, data={"model_path": place["onnx"], "masks": "200", "seed": "1"}
    )
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["method"] == DRISE and job["estimated_seconds"] > 0
    deadline = time.monotonic() + 300
    while job["state"] not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, job
        time.sleep(1)
        job = client.get(f"/api/v1/ml/explanations/{job['explanation_id']}").json()
    assert job["state"] == "completed", job["error"]
    result = job["result"]
    assert result["masks"] == 200 and result["boxes"] and not result["stopped"]
    assert base64.b64decode(result["boxes"][0]["overlay_png"]).startswith(b"\x89PNG")
