"""A YOLO26 model through the studio with both of its heads: trained by the worker, evaluated as Ultralytics
validates it (each head), exported to ONNX with each head and the parity check passed, served over HTTP with the
head its profile names, registered with its architecture and family, compared with itself head against head; and
NMS-free refused, with the reason, for a model without that head."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from mlcore.core import paths
from mlcore.core.settings import load_settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.predict.profile import DeploymentProfile, save_profile
from mlcore.training.spec import TrainSpec
from tests.conftest import api_server, engine_env_for, mlcore, train_in_worker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run26(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A yolo26n fitted for 40 epochs to 24 images at 128 px by the studio's worker (about a minute). AdamW at 0.01:
    at the rate optimizer=auto picks for so short a run, YOLO26 finds nothing in 40 epochs (val mAP50 0.0; at
    0.01 about 0.37 with the NMS head and 0.40 without)."""
    work = tmp_path_factory.mktemp("yolo26")
    data = work / "data"
    make_demo_dataset(data / "small", images=24, imgsz=128, seed=7)
    outputs = work / "out"
    flat = {k: 0.0 for k in ("mosaic", "fliplr", "hsv_h", "hsv_s", "hsv_v", "scale", "translate")}
    spec = TrainSpec(
        dataset_path=str(data / "small"),
        model_architecture="yolo26n",
        optimizer="AdamW",
        learning_rate=0.01,
        epochs=40,
        imgsz=128,
        batch_size=8,
        workers=0,
        device="cpu",
        project="t",
        experiment="y26",
        advanced={"nbs": 8, "warmup_epochs": 0, "val": False, "plots": False, **flat},
    )
    run_dir = outputs / paths.TRAININGS_DIR / "t" / "y26"
    run_dir.mkdir(parents=True)
    (run_dir / paths.CONFIG_FILE).write_text(yaml.safe_dump(spec.to_dict()))  # as the submission writes it
    train_in_worker(spec, run_dir, outputs, work)
    env = {"ML_STUDIO_OUTPUTS": str(outputs), "ML_STUDIO_DATASET_ROOTS": str(data)}
    model = run_dir / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS
    return {"work": work, "outputs": outputs, "env": env, "data": str(data / "small"), "model": model}


def cli(run26: dict, *args: str) -> dict:
    proc = mlcore(*args, extra_env=run26["env"])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return json.loads(proc.stdout)


def ultralytics_val(run26: dict, nms_free: bool) -> dict:
    code = (
        "import json, sys; from ultralytics import YOLO; "
        f"r = YOLO({str(run26['model'])!r}).val(data={run26['data'] + '/data.yaml'!r}, split='val', imgsz=128, "
        f"batch=16, device='cpu', plots=False, verbose=False, nms={False if nms_free else None}); "
        "print(json.dumps({'map50': r.box.map50, 'map50_95': r.box.map}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=engine_env_for(run26["outputs"]),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=run26["work"],
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_run_records_its_architecture_and_family(run26: dict) -> None:
    from mlcore.runs.store import list_runs, runs_table

    settings = load_settings(run26["env"])
    row = next(r for r in runs_table(list_runs(settings), {}) if r["experiment"] == "y26")
    assert (row["architecture"], row["family"]) == ("yolo26n", "YOLO26")


def test_each_head_is_evaluated_as_ultralytics_validates_it(run26: dict) -> None:
    common = ("evaluate", "--model", str(run26["model"]), "--data", run26["data"], "--split", "val", "--wait", "--json")
    with_nms = cli(run26, *common)
    free = cli(run26, *common, "--nms-free")
    assert (with_nms["nms_free"], free["nms_free"]) == (False, True)
    for ours, nms_free in ((with_nms, False), (free, True)):
        theirs = ultralytics_val(run26, nms_free)
        assert abs(ours["map50_95"] - theirs["map50_95"]) <= 1e-4, (nms_free, ours["map50_95"], theirs)
    assert with_nms["map50"] > 0.1 and free["map50"] > 0.1  # the model finds its logos: the numbers mean something
    assert with_nms["map50_95"] != free["map50_95"]  # two heads, two sets of boxes


def test_an_export_with_each_head_passes_parity_against_the_same_head(run26: dict) -> None:
    for flag, shape in (((), None), (("--nms-free",), [1, 300, 6])):
        done = cli(run26, "export", str(run26["model"]), "--data", run26["data"], *flag, "--wait", "--json")
        (onnx,) = done["formats"]
        assert onnx["parity"]["passed"], onnx["parity"]["verdict"]
        card = json.loads((Path(done["output_dir"]) / paths.MODEL_CARD).read_text())
        assert card["nms_free"] is bool(flag)
        if shape:
            assert card["formats"][0]["shapes"]["output"] == shape  # the one-to-one head's top-k is in the graph
        else:
            assert card["formats"][0]["shapes"]["output"][:2] == [1, 4 + 5]


@pytest.fixture(scope="module")
def api(run26: dict) -> Iterator[str]:
    with api_server(run26["work"], run26["env"]) as url:
        yield f"{url}/api/v1/ml"


def test_http_predictions_use_the_head_asked_for_or_the_profiles(run26: dict, api: str) -> None:
    # the heads are under test, not how well a 40-epoch model learned: the train image with the most logos, at
    # confidence 0.001 (on some machines the one-to-one head scored nothing above 0.01 on the busiest val image)
    labels = Path(run26["data"]) / "labels" / "train"
    busiest = max(sorted(labels.glob("*.txt")), key=lambda f: len(f.read_text().splitlines()))
    image = Path(run26["data"]) / "images" / "train" / f"{busiest.stem}.jpg"

    def predict(**form: object) -> dict:
        sent = requests.post(
            f"{api}/predict",
            files=[("file", (image.name, image.read_bytes(), "image/jpeg"))],
            data={"model_path": str(run26["model"]), "confidence_threshold": "0.001", **form},
            timeout=300,
        )
        assert sent.status_code == 200, sent.text
        return sent.json()

    default, free = predict(), predict(nms_free="true")
    assert (default["nms_free"], free["nms_free"]) == (False, True)
    assert default["detections"] and free["detections"] and default["detections"] != free["detections"]
    save_profile(DeploymentProfile(confidence=0.001, nms_free=True), run26["model"], load_settings(run26["env"]))
    assert predict(profile="default")["detections"] == free["detections"]  # the profile's head
    assert predict(nms_free="false")["nms_free"] is False  # the request overrides the profile


def test_registered_with_its_family_and_compared_head_against_head(run26: dict) -> None:
    settings = load_settings(run26["env"])
    save_profile(DeploymentProfile(nms_free=True), run26["model"], settings)
    cli(run26, "models", "register", "t/y26", "--name", "y26", "--json")
    shown = cli(run26, "models", "show", "y26", "--json")
    (version,) = shown["versions"]
    assert (version["architecture"], version["family"]) == ("yolo26n", "YOLO26")
    assert version["profile"]["nms_free"] is True
    copy = run26["outputs"] / paths.MODELS_DIR / "y26-copy.pt"  # the same weights, no profile: the NMS head
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(run26["model"].read_bytes())
    done = cli(run26, "models", "compare", "y26:1", str(copy), "--data", run26["data"], "--split", "val", "--json")
    assert (done["a"]["thresholds"]["nms_free"], done["b"]["thresholds"]["nms_free"]) == (True, False)
    assert done["a"]["thresholds"]["nms_iou"] is None
    assert done["verdict"]


def test_nms_free_is_refused_with_the_reason_for_a_model_without_that_head(run26: dict) -> None:
    run = run26["outputs"] / paths.TRAININGS_DIR / "t" / "v8"  # a YOLOv8 run, as its folder records it
    (run / paths.WEIGHTS_DIR).mkdir(parents=True)
    (run / paths.CONFIG_FILE).write_text(yaml.safe_dump({"model_architecture": "yolov8n"}))
    (run / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS).write_bytes(run26["model"].read_bytes())
    for args in (
        ("evaluate", "--model", "t/v8", "--data", run26["data"], "--nms-free"),
        ("export", "t/v8", "--data", run26["data"], "--nms-free"),
    ):
        proc = mlcore(*args, extra_env=run26["env"])
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "yolov8n model, which has no NMS-free head" in proc.stderr
