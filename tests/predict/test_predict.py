"""Predictions of a tiny trained model: the HTTP API against a real server and predictor process, equal to
Ultralytics' own predict; per-class thresholds; every bad input; the queue limit; a killed predictor;
batch jobs over a folder and a video; the command line; the Predict page."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from mlcore.core import paths
from mlcore.core.settings import load_settings
from mlcore.predict.profile import DeploymentProfile, save_profile
from tests.conftest import PROJECT_ROOT, api_server, engine_env_for

pytestmark = pytest.mark.slow
CONF, IOU = 0.05, 0.7  # low, so that the tiny model gives several boxes to compare


@pytest.fixture(scope="module")
def deployed(trained: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The trained model in a trusted folder, its images as PNG (decoded alike by every library) under the
    dataset roots, and a 10-frame video of them."""
    work = tmp_path_factory.mktemp("predict")
    outputs = work / "out"
    (outputs / paths.MODELS_DIR).mkdir(parents=True)
    model = outputs / paths.MODELS_DIR / "best.pt"
    shutil.copyfile(trained["model"], model)
    photos = work / "data" / "photos"
    photos.mkdir(parents=True)
    for image in sorted(Path(trained["data"]).glob("images/*/*.jpg")):
        Image.open(image).save(photos / f"{image.stem}.png")
    video = work / "data" / "clip.mp4"
    import cv2

    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (128, 128))
    for image in sorted(photos.glob("*.png"))[:10]:
        writer.write(cv2.imread(str(image)))
    writer.release()
    env = {"ML_STUDIO_OUTPUTS": str(outputs), "ML_STUDIO_DATASET_ROOTS": str(work / "data")}
    return {"work": work, "outputs": outputs, "model": model, "photos": photos, "video": video, "env": env}


def direct(deployed: dict, images: list[Path], conf: float = CONF, iou: float = IOU) -> list[list[list[float]]]:
    done = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "tests" / "direct_predict.py"),
            str(deployed["model"]),
            str(conf),
            str(iou),
            *map(str, images),
        ],
        env=engine_env_for(deployed["outputs"]),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def api(deployed: dict) -> Iterator[str]:
    """`python -m mlcore serve` on a free port, with small limits: 4 files a request, 1 MB an image, 2 waiting."""
    limits = {"ML_STUDIO_PREDICT_MAX_FILES": "4", "ML_STUDIO_PREDICT_MAX_MB": "1", "ML_STUDIO_PREDICT_QUEUE": "2"}
    with api_server(deployed["work"], {**deployed["env"], **limits}) as url:
        yield f"{url}/api/v1/ml"


def post(url: str, files: list[tuple[str, Path | bytes, str]], **form) -> requests.Response:
    field = "files" if url.endswith("_batch") else "file"
    parts = [(field, (name, data.read_bytes() if isinstance(data, Path) else data, kind)) for name, data, kind in files]
    return requests.post(url, files=parts, data={k: str(v) for k, v in form.items()}, timeout=300)


def _same(ours: list[dict], theirs: list[list[float]]) -> None:
    assert len(ours) == len(theirs)
    for a, (cls, conf, *box) in zip(
        sorted(ours, key=lambda d: -d["confidence"]), sorted(theirs, key=lambda r: -r[1]), strict=True
    ):
        assert a["class_id"] == cls and abs(a["confidence"] - conf) <= 0.01
        assert max(abs(x - y) for x, y in zip(a["box"], box, strict=True)) <= 1.0


def test_predict_answers_what_ultralytics_predict_answers(api: str, deployed: dict) -> None:
    images = sorted(deployed["photos"].glob("*.png"))[:6]
    reference = direct(deployed, images)
    assert sum(map(len, reference)) >= 3, "the tiny model should find a few boxes at this threshold"
    for image, expected in zip(images, reference, strict=True):
        answer = post(
            f"{api}/predict",
            [(image.name, image, "image/png")],
            model_path=deployed["model"],
            confidence_threshold=CONF,
            iou_threshold=IOU,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["image"] == {"width": 128, "height": 128} and body["model"] == str(deployed["model"])
        assert body["time_ms"] > 0
        _same(body["detections"], expected)
    sent = [(i.name, i, "image/png") for i in images[:3]] + [("notes.txt", b"hi", "text/plain")]
    batch = post(f"{api}/predict_batch", sent, model_path=deployed["model"], confidence_threshold=CONF)
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    assert [r["file"] for r in results] == [i.name for i in images[:3]] + ["notes.txt"]
    for result, expected in zip(results[:3], reference[:3], strict=True):
        _same(result["detections"], expected)
    assert results[3]["status"] == 415 and "not as an image" in results[3]["error"]


def test_per_class_thresholds_and_the_saved_profile_apply_after_nms(api: str, deployed: dict) -> None:
    images = sorted(deployed["photos"].glob("*.png"))[:6]
    files = [(i.name, i, "image/png") for i in images[:4]]
    every = post(f"{api}/predict_batch", files, model_path=deployed["model"], confidence_threshold=CONF).json()
    boxes = [d for r in every["results"] for d in r["detections"]]
    strict_class = max({d["class_name"] for d in boxes}, key=lambda n: sum(d["class_name"] == n for d in boxes))
    profile = {"confidence": CONF, "iou": IOU, "per_class": {strict_class: 0.99}}
    kept = post(f"{api}/predict_batch", files, model_path=deployed["model"], profile=json.dumps(profile)).json()
    for before, after in zip(every["results"], kept["results"], strict=True):
        assert after["detections"] == [d for d in before["detections"] if d["class_name"] != strict_class]
    settings = load_settings({**os.environ, **deployed["env"]})
    save_profile(DeploymentProfile(**profile), deployed["model"], settings)
    try:
        saved = post(f"{api}/predict_batch", files, model_path=deployed["model"]).json()  # profile=default
        assert saved["results"] == kept["results"] or [r["detections"] for r in saved["results"]] == [
            r["detections"] for r in kept["results"]
        ]
        ignored = post(
            f"{api}/predict_batch", files, model_path=deployed["model"], profile="none", confidence_threshold=CONF
        ).json()
        assert [r["detections"] for r in ignored["results"]] == [r["detections"] for r in every["results"]]
    finally:
        (deployed["model"].parent / paths.PROFILE_FILE).unlink()
    foreign = post(f"{api}/predict", files[:1], model_path=deployed["model"], profile='{"per_class": {"cat": 0.5}}')
    assert foreign.status_code == 422 and "the model has" in foreign.json()["detail"]


def _bomb() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("1", (9000, 5000)).save(buffer, "PNG")  # 45 million pixels in a few kilobytes
    return buffer.getvalue()


def test_every_bad_input_gets_a_4xx_that_says_what_is_wrong_and_the_predictor_goes_on(api: str, deployed: dict) -> None:
    image = sorted(deployed["photos"].glob("*.png"))[0]
    good = image.read_bytes()
    model = deployed["model"]
    cases = [
        ([("a.txt", b"plain words", "image/png")], {}, 422, "not an image"),
        ([("cut.png", good[: len(good) // 2], "image/png")], {}, 422, "truncated"),
        ([("zero.png", b"", "image/png")], {}, 422, "empty (0 bytes)"),
        ([("bomb.png", _bomb(), "image/png")], {}, 413, "decompression bomb"),
        ([("a.png", good, "text/plain")], {}, 415, "not as an image"),
        ([("big.png", b"\x89PNG" + bytes(1_200_000), "image/png")], {}, 413, "1 MB are accepted"),
        ([("a.png", good, "image/png")], {"model_path": "/etc/passwd"}, 400, "models load only from"),
        ([("a.png", good, "image/png")], {"model_path": ""}, 400, "no default model is configured"),
        ([("a.png", good, "image/png")], {"confidence_threshold": 1.5}, 422, "between 0 and 1"),
    ]
    for files, form, status, words in cases:
        answer = post(f"{api}/predict", files, **({"model_path": model} | form))
        assert answer.status_code == status, (files[0][0], answer.text)
        assert words in answer.json()["detail"], (files[0][0], answer.json())
    too_many = post(f"{api}/predict_batch", [(f"{n}.png", good, "image/png") for n in range(5)], model_path=model)
    assert too_many.status_code == 413 and "at most 4" in too_many.json()["detail"]
    assert post(f"{api}/predict", [("a.png", good, "image/png")], model_path=model).status_code == 200
    outside = requests.post(f"{api}/predictions", json={"model_path": str(model), "source": "/etc"}, timeout=60)
    assert outside.status_code == 400 and "outside the allowed folders" in outside.json()["detail"]
    broken = deployed["video"].with_name("broken.mp4")
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    undecodable = requests.post(
        f"{api}/predictions", json={"model_path": str(model), "source": str(broken)}, timeout=60
    )
    assert undecodable.status_code == 400 and "cannot be decoded as a video" in undecodable.json()["detail"]
    assert requests.get(f"{api}/predictions/nope", timeout=10).status_code == 404


def _predictor_pid(api: str) -> int:
    status = requests.get(f"{api}/predictor", timeout=30).json()
    assert status["running"], status
    return int(status["pid"])


def test_a_full_queue_answers_429_with_retry_after(api: str, deployed: dict) -> None:
    image = sorted(deployed["photos"].glob("*.png"))[0]
    form = {"model_path": deployed["model"]}
    assert post(f"{api}/predict", [("a.png", image, "image/png")], **form).status_code == 200
    pid = _predictor_pid(api)
    os.kill(pid, signal.SIGSTOP)  # the predictor holds the first request; two more wait; the next is refused
    answers: list[requests.Response] = []
    threads = [
        threading.Thread(target=lambda: answers.append(post(f"{api}/predict", [("a.png", image, "image/png")], **form)))
        for _ in range(3)
    ]
    try:
        for thread in threads:
            thread.start()
            time.sleep(1.0)
        refused = post(f"{api}/predict", [("a.png", image, "image/png")], **form)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) >= 1 and "send this one again" in refused.json()["detail"]
    finally:
        os.kill(pid, signal.SIGCONT)
    for thread in threads:
        thread.join(120)
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sorted(a.json()["batched_with"] for a in answers) == [1, 2, 2]  # the two that waited ran as one batch


def test_a_killed_predictor_answers_503_and_the_next_request_restarts_it(api: str, deployed: dict) -> None:
    image = sorted(deployed["photos"].glob("*.png"))[0]
    form = {"model_path": deployed["model"]}
    assert post(f"{api}/predict", [("a.png", image, "image/png")], **form).status_code == 200
    pid = _predictor_pid(api)
    os.kill(pid, signal.SIGSTOP)
    answers: list[requests.Response] = []
    thread = threading.Thread(
        target=lambda: answers.append(post(f"{api}/predict", [("a.png", image, "image/png")], **form))
    )
    thread.start()
    time.sleep(1.5)  # the request is in flight
    os.kill(pid, signal.SIGKILL)
    thread.join(60)
    assert answers and answers[0].status_code == 503, answers and answers[0].text
    assert "send this one again" in answers[0].json()["detail"]
    again = post(f"{api}/predict", [("a.png", image, "image/png")], **form)
    assert again.status_code == 200, again.text
    assert _predictor_pid(api) != pid


def _wait_job(api: str, prediction_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = requests.get(f"{api}/predictions/{prediction_id}", timeout=30).json()
        if status["status"] in ("completed", "failed", "cancelled"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"prediction {prediction_id} did not end: {status}")


def test_a_batch_job_over_a_folder_writes_every_file_and_skips_a_broken_image(api: str, deployed: dict) -> None:
    folder = deployed["work"] / "data" / "batch"
    shutil.copytree(deployed["photos"], folder / "sub")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (folder / "notes.png").write_bytes(b"plain words, no image header at all")  # Pillow cannot even identify it
    body = {
        "model_path": str(deployed["model"]),
        "source": str(folder),
        "confidence_threshold": CONF,
        "save_images": True,
    }
    started = requests.post(f"{api}/predictions", json=body, timeout=60)
    assert started.status_code == 202, started.text
    status = _wait_job(api, started.json()["prediction_id"])
    assert status["status"] == "completed", status
    images = sorted((folder / "sub").glob("*.png"))
    summary, out = status["summary"], Path(status["output_dir"])
    assert summary["images"] == len(images)
    assert sorted(u["image"] for u in summary["unreadable"]) == ["broken.jpg", "notes.png"]
    assert sum(summary["per_class"].values()) == summary["detections"]
    coco = json.loads((out / paths.COCO_PREDICTIONS).read_text())
    assert len(coco["images"]) == len(images) and len(coco["annotations"]) == summary["detections"]
    rows = (out / paths.DETECTIONS_CSV).read_text().splitlines()
    assert rows[0].startswith("image,class_id") and len(rows) == summary["detections"] + 1
    reference = direct(deployed, images[:4])
    for image, expected in zip(images[:4], reference, strict=True):
        lines = (out / paths.PREDICTED_LABELS_DIR / f"sub__{image.stem}.txt").read_text().split("\n")[:-1]
        assert len(lines) == len(expected)
        for line in lines:
            cls, *xywh, conf = line.split()
            assert any(int(cls) == e[0] and abs(float(conf) - e[1]) <= 0.01 for e in expected)
    assert len(list((out / paths.ANNOTATED_DIR).rglob("*.jpg"))) == len(images)
    assert summary["empty_images"] == sum(1 for e in reference if not e) + sum(
        1 for i in images[4:] if not (out / paths.PREDICTED_LABELS_DIR / f"sub__{i.stem}.txt").read_text()
    )


def test_a_batch_job_over_a_video_predicts_every_nth_frame_and_draws_a_video(api: str, deployed: dict) -> None:
    import cv2

    body = {
        "model_path": str(deployed["model"]),
        "source": str(deployed["video"]),
        "every_nth_frame": 3,
        "save_images": True,
        "confidence_threshold": CONF,
    }
    started = requests.post(f"{api}/predictions", json=body, timeout=60)
    assert started.status_code == 202, started.text
    status = _wait_job(api, started.json()["prediction_id"])
    assert status["status"] == "completed", status
    out = Path(status["output_dir"])
    assert status["summary"]["images"] == 4  # frames 0, 3, 6, 9 of 10
    names = sorted(p.stem for p in (out / paths.PREDICTED_LABELS_DIR).glob("*.txt"))
    assert names == ["frame_000000", "frame_000003", "frame_000006", "frame_000009"]
    drawn = cv2.VideoCapture(str(out / paths.ANNOTATED_VIDEO))
    frames = int(drawn.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = drawn.read()
    drawn.release()
    assert frames == 4 and ok and frame.shape[:2] == (320, 320)  # small frames are enlarged to draw legibly
    listed = requests.get(f"{api}/predictions", timeout=30).json()
    assert started.json()["prediction_id"] in [j["prediction_id"] for j in listed]


def test_the_command_line_answers_an_image_and_runs_a_folder_job(deployed: dict) -> None:
    from tests.conftest import mlcore

    image = sorted(deployed["photos"].glob("*.png"))[1]
    one = mlcore(
        "predict", str(deployed["model"]), str(image), "--conf", str(CONF), "--json", extra_env=deployed["env"]
    )
    assert one.returncode == 0, one.stderr[-2000:]
    _same(json.loads(one.stdout)["detections"], direct(deployed, [image])[0])
    folder = mlcore(
        "predict", str(deployed["model"]), str(deployed["photos"]), "--wait", "--json", extra_env=deployed["env"]
    )
    assert folder.returncode == 0, folder.stderr[-2000:]
    assert json.loads(folder.stdout)["summary"]["images"] == len(list(deployed["photos"].glob("*.png")))
    (deployed["work"] / "data" / "empty").mkdir()
    bad = mlcore("predict", str(deployed["model"]), str(deployed["work"] / "data" / "empty"), extra_env=deployed["env"])
    assert bad.returncode == 2 and "holds no JPEG" in bad.stderr


def test_the_page_predicts_on_images_of_a_folder_and_draws_them(deployed: dict, monkeypatch) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    for key, value in deployed["env"].items():
        monkeypatch.setenv(key, value)
    st.cache_data.clear()
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "predict.py"), default_timeout=180).run()
    assert not at.exception, at.exception
    at.radio(key="predict.source").set_value("From a folder").run()
    at.text_input(key="predict.folder").set_value(str(deployed["photos"])).run()
    at.radio(key="predict.how").set_value("sliders").run()
    at.slider(key="predict.conf").set_value(CONF).run()
    at.button(key="predict.go").click().run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric][0] == "4"  # the first four images of the folder
    assert len(at.get("image")) >= 4 and len(at.get("download_button")) >= 8
    from ui.cache import predictor

    predictor(load_settings()).close()
    st.cache_resource.clear()
    at.text_input(key="predict.folder").set_value("/etc").run()
    assert any("outside the allowed folders" in w.value for w in at.warning)


def test_the_page_without_models_says_what_to_do(settings) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "predict.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert "No model yet" in at.info[0].value


def test_pixels_of_an_image_reach_the_model_as_ultralytics_reads_them(deployed: dict) -> None:
    """Decoding: our BGR array equals OpenCV's reading of the same PNG (what Ultralytics does with a path)."""
    import cv2

    from mlcore.predict.images import decode_image

    image = sorted(deployed["photos"].glob("*.png"))[0]
    ours = decode_image(image.read_bytes(), image.name, load_settings().predict).pixels
    assert np.array_equal(ours, cv2.imread(str(image)))


def test_stop_ends_a_batch_job_after_its_current_images_and_keeps_what_it_wrote(api: str, deployed: dict) -> None:
    folder = deployed["work"] / "data" / "many"
    folder.mkdir()
    for n in range(240):
        shutil.copyfile(sorted(deployed["photos"].glob("*.png"))[n % 24], folder / f"{n:03d}.png")
    body = {"model_path": str(deployed["model"]), "source": str(folder)}
    prediction_id = requests.post(f"{api}/predictions", json=body, timeout=60).json()["prediction_id"]
    deadline = time.monotonic() + 120
    while requests.get(f"{api}/predictions/{prediction_id}", timeout=30).json()["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    stopped = requests.post(f"{api}/predictions/{prediction_id}/stop", timeout=30)
    assert stopped.status_code == 200 and stopped.json()["state"] == "stopping"
    status = _wait_job(api, prediction_id)
    summary = status["summary"]
    assert status["status"] == "completed" and summary["stopped"] and summary["images"] < 240
    labels = list((Path(status["output_dir"]) / paths.PREDICTED_LABELS_DIR).glob("*.txt"))
    assert len(labels) == summary["images"]


def test_a_batch_prediction_offers_its_drawn_images_and_its_result_files(tmp_path: Path) -> None:
    from mlcore.predict.store import PredictionRun

    run = PredictionRun(tmp_path, {}, {"images": 1}, 0.0)
    assert run.drawn_images(8) == [] and run.downloads() == []
    (tmp_path / paths.ANNOTATED_DIR / "sub").mkdir(parents=True)
    for n in range(10):
        Image.new("RGB", (8, 8)).save(tmp_path / paths.ANNOTATED_DIR / "sub" / f"{n}.jpg")
    (tmp_path / paths.DETECTIONS_CSV).write_text("image,class\n")
    assert [p.name for p in run.drawn_images(8)] == [f"{n}.jpg" for n in range(8)]
    assert run.downloads() == [(tmp_path / paths.DETECTIONS_CSV, "text/csv")]
