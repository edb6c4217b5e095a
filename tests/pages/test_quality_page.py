"""The Data quality page (AppTest) and the drift job end to end: empty states, an audit's gallery and fix list,
a drift report of a darkened folder, a failed job's reason, bad input in the forms."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlcore.core import paths
from mlcore.core.settings import PROJECT_ROOT
from mlcore.datasets.loader import load_dataset
from mlcore.jobs.store import JobState, open_store
from mlcore.quality.spec import DriftSpec
from mlcore.quality.submit import submit_drift
from tests.conftest import until_final
from tests.quality_fixture import made_audit


def _page():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(PROJECT_ROOT / "pages" / "quality.py"), default_timeout=60)


def test_each_tool_without_a_job_says_how_to_start_one(data_studio) -> None:
    at = _page().run()
    assert not at.exception, at.exception
    assert "No audit yet" in "\n".join(i.value for i in at.info)
    for kind, words in (("selection", "No selection yet"), ("drift", "No drift report yet")):
        at.segmented_control(key="quality.tool").set_value(kind).run()
        assert not at.exception, at.exception
        assert words in "\n".join(i.value for i in at.info)


def test_an_audit_shows_its_counts_gallery_and_fix_list(data_studio) -> None:
    settings, dataset = data_studio
    job, document = made_audit(settings, dataset)
    assert document["issues"], "the made-up predictions should give suspects"
    at = _page().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Suspect boxes"] == str(document["counts"]["suspects"])
    assert metrics["Images"] == str(document["counts"]["images"])
    assert len(at.get("image")) >= 1  # the gallery's pictures
    fixes = next(d.value for d in at.dataframe if "as_is" in d.value.columns)
    assert len(fixes) == len(document["issues"])
    at.pills(key="quality.audit.kinds").set_value(["swapped"]).run()
    assert not at.exception, at.exception
    drawn = sum(1 for i in document["issues"] if i["type"] == "swapped" and i.get("picture"))
    assert any(f"{drawn} suspect(s) drawn" in c.value for c in at.caption)


def test_an_audit_shows_a_weak_or_ordinary_models_warning_and_every_audit_its_models_figures(data_studio) -> None:
    from mlcore.core.atomic_file import write_json_atomically
    from mlcore.quality.audit import Strength

    settings, dataset = data_studio
    job, document = made_audit(settings, dataset)
    at = _page().run()
    assert not at.exception, at.exception
    strength = document["strength"]
    assert any(f"find {strength['recall']:.0%} of the labels" in c.value for c in at.caption)
    assert not any("too weak" in w.value for w in at.warning) or document["warning"]
    weak = Strength(sure=0.41, precision=0.52, recall=0.44, separation=0.66, predictions=300, labels=120)
    write_json_atomically(Path(job.run_dir) / paths.AUDIT_FILE, {**document, "warning": weak.warning()})
    at = _page().run()
    assert not at.exception, at.exception
    shown = "\n".join(w.value for w in at.warning)
    assert "too weak to audit" in shown and "66%" in shown and "44%" in shown
    ordinary = Strength(sure=0.5, precision=0.8, recall=0.8, separation=0.9, predictions=300, labels=120, map50=0.64)
    write_json_atomically(
        Path(job.run_dir) / paths.AUDIT_FILE,
        {**document, "warning": ordinary.warning(), "strength": ordinary.to_dict()},
    )
    at = _page().run()
    assert not at.exception, at.exception
    assert any("mAP50 0.64" in w.value and "check from the top" in w.value for w in at.warning)
    assert any("mAP50 0.64 against these labels" in c.value for c in at.caption)


def test_an_audit_shows_the_label_sizes_its_model_cannot_see(data_studio) -> None:
    from mlcore.core.atomic_file import write_json_atomically
    from mlcore.quality.blind_spot import BlindSpot

    settings, dataset = data_studio
    job, document = made_audit(settings, dataset)
    at = _page().run()
    assert not at.exception, at.exception
    assert document["blind_spot"] is None and not any("cannot see" in w.value for w in at.warning)
    spot = BlindSpot(below_px=19, imgsz=160, labels=10, found=0, split_labels=73, suggested_imgsz=448)
    write_json_atomically(Path(job.run_dir) / paths.AUDIT_FILE, {**document, "blind_spot": spot.to_dict()})
    at = _page().run()
    assert not at.exception, at.exception
    shown = "\n".join(w.value for w in at.warning)
    assert "none of the 10 labels smaller than 19 px" in shown and "at 448 px" in shown


def test_a_failed_job_says_why(data_studio) -> None:
    settings, dataset = data_studio
    folder = settings.outputs_root / paths.AUDITS_DIR / "broken"
    folder.mkdir(parents=True)
    store = open_store(settings)
    job = store.submit("audit", {"task": "audit", "split": "val"}, str(folder))
    store.transition(job.id, JobState.STARTING, device="cpu")
    store.transition(job.id, JobState.FAILED, error="the model's classes differ from the dataset's: only in the model")
    at = _page().run()
    assert not at.exception, at.exception
    assert "classes differ" in "\n".join(e.value for e in at.error)


def test_forms_refuse_bad_input_with_what_to_do(data_studio) -> None:
    settings, dataset = data_studio
    at = _page().run()
    at.segmented_control(key="quality.tool").set_value("drift").run()
    at.text_input(key="quality.drift.images").set_value(str(dataset.parent / "nothing-here")).run()
    at.button(key="quality.drift.start").click().run()
    assert not at.exception, at.exception
    assert "does not exist; check the spelling" in "\n".join(e.value for e in at.error)
    empty = dataset.parent / "empty"
    empty.mkdir()
    at.text_input(key="quality.drift.images").set_value(str(empty)).run()
    at.button(key="quality.drift.start").click().run()
    assert not at.exception, at.exception
    assert "holds no JPEG, PNG, WebP, BMP or TIFF images" in "\n".join(e.value for e in at.error)


def _darkened(images: list[str], target: Path) -> Path:
    target.mkdir(parents=True)
    for image in images:
        with Image.open(image) as im:
            Image.fromarray((np.asarray(im.convert("RGB")) * 0.45).astype(np.uint8)).save(target / Path(image).name)
    return target


@pytest.mark.slow
def test_drift_flags_a_darkened_copy_and_not_an_unchanged_one_and_the_page_shows_it(data_studio) -> None:
    settings, dataset = data_studio
    train = load_dataset(dataset).splits["train"]
    unchanged = dataset.parent / "unchanged"
    unchanged.mkdir()
    for image in train:
        shutil.copy(image, unchanged / Path(image).name)
    (unchanged / "broken.jpg").write_bytes(b"not a picture")
    dark = _darkened(train, dataset.parent / "dark")
    reports = {}
    for name, folder in (("unchanged", unchanged), ("dark", dark)):
        job = submit_drift(DriftSpec(images=str(folder), dataset_path=str(dataset), device="cpu"), settings)
        until_final(job.id, settings)
        done = open_store(settings).get(job.id)
        assert done.state is JobState.COMPLETED, done.error
        reports[name] = json.loads((Path(done.run_dir) / paths.DRIFT_FILE).read_text())
    assert reports["unchanged"]["verdict"] == "stable", reports["unchanged"]["summary"]
    assert [s["path"] for s in reports["unchanged"]["skipped"]] == [str(unchanged / "broken.jpg")]
    dark_report = reports["dark"]
    brightness = next(f for f in dark_report["features"] if f["name"] == "brightness")
    assert dark_report["verdict"] == "drift" and brightness["verdict"] == "drift" and "darker" in brightness["sentence"]
    assert brightness["tails"] and all(
        (Path(done.run_dir) / "tails" / t["picture"]).is_file() for t in brightness["tails"]
    )

    at = _page()
    at.session_state["quality.tool"] = "drift"
    at.run()
    assert not at.exception, at.exception
    assert "brightness" in "\n".join(e.value for e in at.error)  # the newest report: drift, said in red
    assert len(at.get("plotly_chart")) == 1 + len(dark_report["features"])


def test_the_api_lists_reads_and_refuses_quality_jobs_with_what_to_do(data_studio) -> None:
    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api

    settings, dataset = data_studio
    job, document = made_audit(settings, dataset)
    with TestClient(create_api(settings)) as client:
        listed = client.get("/api/v1/ml/audits").json()
        assert [a["id"] for a in listed] == [job.id] and "result" not in listed[0]
        one = client.get(f"/api/v1/ml/audits/{job.id}").json()
        assert one["state"] == "completed" and one["result"]["counts"] == document["counts"]
        assert [i["path"] for i in one["result"]["images"]] == [i["path"] for i in document["images"]]
        missing = client.get("/api/v1/ml/audits/nope")
        assert missing.status_code == 404 and "GET /api/v1/ml/audits" in missing.json()["detail"]
        bad = client.post("/api/v1/ml/audits", json={"model_path": "m.pt", "dataset_path": str(dataset), "kfold": 1})
        assert bad.status_code == 422 and "kfold=1" in bad.json()["detail"]
        typo = client.post("/api/v1/ml/audits", json={"model_path": "m.pt", "dataset_path": "d", "folds": 3})
        assert typo.status_code == 422
        empty = dataset.parent / "empty"
        empty.mkdir()
        refused = client.post("/api/v1/ml/drift", json={"images": str(empty), "dataset_path": str(dataset)})
        assert refused.status_code == 400 and "holds no JPEG, PNG, WebP, BMP or TIFF images" in refused.json()["detail"]
        no_train = dataset.parent / "no-train"
        shutil.copytree(dataset, no_train)
        shutil.rmtree(no_train / "images" / "train")
        (no_train / "data.yaml").write_text((no_train / "data.yaml").read_text().replace("train: images/train\n", ""))
        images = dataset / "images" / "val"
        unreferenced = client.post("/api/v1/ml/drift", json={"images": str(images), "dataset_path": str(no_train)})
        assert unreferenced.status_code == 400 and "the reference has no images" in unreferenced.json()["detail"]
        untrusted = client.post("/api/v1/ml/selections", json={"model_path": "/etc/m.pt", "images": str(empty)})
        assert untrusted.status_code == 400
        assert client.post(f"/api/v1/ml/audits/{job.id}/cancel").status_code == 409  # it has ended
        assert client.get("/api/v1/ml/selections").json() == [] and client.get("/api/v1/ml/drift").json() == []
