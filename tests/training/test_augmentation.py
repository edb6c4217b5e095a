"""Augmentation preview: the samples are those Ultralytics' own detection trainer builds for the same seed, the same
seed gives the same draw in a new process, settings are checked and go into the training's spec, the Training page,
the Runs page, the command line and the API; the dataset is never written."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import PROJECT_ROOT
from mlcore.core.spec import SpecError
from mlcore.training.augment_preview import preview_augmentation
from mlcore.training.augmentation import DEFAULTS, check_augmentation, parse_settings, run_augmentation
from mlcore.training.spec import TrainSpec
from tests.conftest import engine_env_for, mlcore, tree_digest

CHOSEN = {"degrees": 15.0, "mosaic": 0.5, "fliplr": 0.0, "hsv_v": 0.6, "mixup": 0.2}


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / paths.AUGMENTATION_SAMPLES) as samples:
        return {k: samples[k] for k in samples.files}


@pytest.mark.slow  # child processes or a real server: the full suite runs it
def test_the_preview_is_what_ultralytics_trainer_builds_for_the_same_seed(data_studio, tmp_path: Path) -> None:
    settings, source = data_studio
    before = tree_digest(source)
    preview = preview_augmentation(str(source), settings, CHOSEN, seed=5, count=6, imgsz=160)
    assert tree_digest(source) == before, "the dataset was written"
    assert len(preview.samples) == 6 and preview.grid.stat().st_size > 0
    assert all(Path(s["file"]).is_relative_to(source) for s in preview.samples), "samples name the user's images"
    ours = _arrays(preview.folder)
    view = preview.folder.parent / paths.AUGMENTATION_VIEW_DIR / paths.DATA_YAML
    out = tmp_path / "reference.npz"
    subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "tests" / "trainer_samples.py"),
            str(view),
            "5",
            "6",
            "160",
            str(out),
            json.dumps(CHOSEN),
        ],
        env=engine_env_for(settings.outputs_root),
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    with np.load(out) as reference:
        for k in range(6):
            image = reference[f"image_{k}"]
            assert image.shape == (160, 160, 3) and np.array_equal(ours[f"image_{k}"], image), f"sample {k} differs"
            cx, cy, w, h = (reference[f"boxes_{k}"] * 160).T
            expected = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
            np.testing.assert_allclose(ours[f"boxes_{k}"], expected, atol=0.01)
            assert np.array_equal(ours[f"classes_{k}"], reference[f"classes_{k}"])
    assert sum(len(ours[f"boxes_{k}"]) for k in range(6)) > 0, "the samples should hold boxes"


@pytest.mark.slow  # several Ultralytics dataset builds in child processes
def test_the_same_seed_gives_the_same_draw_in_a_new_process_and_another_seed_another(data_studio) -> None:
    settings, source = data_studio
    first = preview_augmentation(str(source), settings, CHOSEN, seed=2, count=4, imgsz=128)
    drawn = _arrays(first.folder)
    kept = preview_augmentation(str(source), settings, CHOSEN, seed=2, count=4, imgsz=128)
    assert kept.folder == first.folder and kept.seconds == first.seconds  # read back, not drawn again
    shutil.rmtree(first.folder)
    again = _arrays(preview_augmentation(str(source), settings, CHOSEN, seed=2, count=4, imgsz=128).folder)
    assert drawn.keys() == again.keys() and all(np.array_equal(drawn[k], again[k]) for k in drawn)
    other = _arrays(preview_augmentation(str(source), settings, CHOSEN, seed=3, count=4, imgsz=128).folder)
    assert not all(np.array_equal(drawn[f"image_{k}"], other[f"image_{k}"]) for k in range(4))
    plain = _arrays(
        preview_augmentation(
            str(source),
            settings,
            {"mosaic": 0.0, "fliplr": 0.0, "hsv_h": 0.0, "hsv_s": 0.0, "hsv_v": 0.0, "translate": 0.0, "scale": 0.0},
            seed=2,
            count=4,
            imgsz=128,
        ).folder
    )
    assert not all(np.array_equal(drawn[f"image_{k}"], plain[f"image_{k}"]) for k in range(4)), "settings ignored"


def test_bad_settings_and_datasets_are_refused_with_what_to_do(data_studio) -> None:
    settings, source = data_studio
    with pytest.raises(ValueError, match=r"augmentation\['mosaic'\]=2; use a number from 0 to 1"):
        check_augmentation({"mosaic": 2})
    with pytest.raises(ValueError, match="not an augmentation setting; use one of hsv_h"):
        check_augmentation({"mosiac": 0.5})
    with pytest.raises(ValueError, match="write NAME=VALUE with a number"):
        parse_settings(["mosaic=half"])
    assert parse_settings(["mosaic=0.5", "degrees=10"]) == {"mosaic": 0.5, "degrees": 10.0}
    with pytest.raises(SpecError, match="augmentation\\['degrees'\\]=400"):
        TrainSpec(dataset_path="d", augmentation={"degrees": 400})
    with pytest.raises(SubmitError, match="use a number from 0 to 0.9"):
        preview_augmentation(str(source), settings, {"translate": 1.0})
    empty = source.parent / "empty"
    (empty / "images" / "val").mkdir(parents=True)
    (empty / "classes.txt").write_text("logo\n")
    with pytest.raises(SubmitError, match="no training images to preview"):
        preview_augmentation(str(empty), settings, {})
    spec = TrainSpec(dataset_path="d", augmentation={"mosaic": 0.25}, advanced={"degrees": 5})
    args = spec.to_ultralytics()
    assert args["mosaic"] == 0.25 and args["degrees"] == 5 and "fliplr" not in args


def test_a_runs_augmentation_is_read_from_args_yaml_else_from_its_spec(tmp_path: Path) -> None:
    spec = {"augmentation": {"mosaic": 0.5}, "advanced": {"fliplr": 0.0}}
    rows = {r["setting"]: r for r in run_augmentation(tmp_path, spec)}
    assert rows["mosaic"]["value"] == 0.5 and rows["mosaic"]["changed"] and rows["fliplr"]["changed"]
    assert rows["degrees"]["value"] == DEFAULTS["degrees"] and not rows["degrees"]["changed"]
    (tmp_path / paths.ARGS_FILE).write_text(yaml.safe_dump({**DEFAULTS, "mosaic": 0.1, "epochs": 3}))
    rows = {r["setting"]: r for r in run_augmentation(tmp_path, spec)}
    assert rows["mosaic"]["value"] == 0.1 and not rows["fliplr"]["changed"]
    assert [r for r in rows.values() if r["changed"]] == [rows["mosaic"]]


@pytest.mark.slow  # several Ultralytics dataset builds in child processes
def test_the_training_page_previews_and_puts_the_settings_into_the_spec(data_studio, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    import mlcore.training.submit as submit

    settings, source = data_studio
    started = []
    monkeypatch.setattr(submit, "start", lambda spec, *a, **k: started.append(spec))
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "training.py"), default_timeout=120)
    at.session_state["train.dataset"] = str(source)
    at.run()
    assert not at.exception, at.exception
    assert any("Preview draws nine training samples" in c.value for c in at.caption)
    at.number_input(key="train.aug.mosaic").set_value(0.0).run()
    at.number_input(key="train.aug.degrees").set_value(20.0).run()
    at.button(key="train.aug.preview").click().run()
    assert not at.exception, at.exception
    assert any("Seed 0: degrees 20, mosaic 0" in str(i.proto) for i in at.get("image")), "no preview shown"
    at.button(key="train.start").click().run()
    assert started and started[0].augmentation == {"degrees": 20.0, "mosaic": 0.0}
    at.button(key="train.aug.new_draw").click().run()
    assert at.number_input(key=("train.aug.seed")).value == 1 and not at.exception
    at.button(key="train.aug.reset").click().run()
    assert at.number_input(key="train.aug.mosaic").value == DEFAULTS["mosaic"]
    at.number_input(key="train.aug.mosaic").set_value(0.5).run()
    at.text_area(key="train.extra").set_value("mosaic 0.5").run()  # a typo in the other arguments
    assert any("'name: value'" in e.value for e in at.error)
    assert at.number_input(key="train.aug.mosaic").value == 0.5, "the augmentation settings were lost"


@pytest.mark.slow  # child processes or a real server: the full suite runs it
def test_the_command_line_and_the_api_draw_a_preview(data_studio, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api

    settings, source = data_studio
    env = {"ML_STUDIO_DATASET_ROOTS": str(source.parent)}
    out = tmp_path / "grid.png"
    done = mlcore(
        "augment-preview",
        "--data",
        str(source),
        "--set",
        "mosaic=0",
        "--samples",
        "4",
        "--imgsz",
        "96",
        "--out",
        str(out),
        "--json",
        env_outputs=settings.outputs_root,
        extra_env=env,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["augmentation"] == {"mosaic": 0.0} and len(document["samples"]) == 4 and out.stat().st_size
    bad = mlcore(
        "augment-preview", "--data", str(source), "--set", "mosaic=3", env_outputs=settings.outputs_root, extra_env=env
    )
    assert bad.returncode == 2 and "use a number from 0 to 1" in bad.stderr and "Traceback" not in bad.stderr
    with TestClient(create_api(settings)) as client:
        answer = client.post(
            "/api/v1/ml/training/augmentation-preview",
            json={"dataset_path": str(source), "augmentation": {"mosaic": 0}, "samples": 4, "imgsz": 96},
        )
        assert answer.status_code == 200, answer.text
        assert base64.b64decode(answer.json()["grid_png"])[:8] == b"\x89PNG\r\n\x1a\n"
        refused = client.post(
            "/api/v1/ml/training/augmentation-preview",
            json={"dataset_path": str(source), "augmentation": {"shear": 90}},
        )
        assert refused.status_code == 400 and "use a number from 0 to 45" in refused.text
