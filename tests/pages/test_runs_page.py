"""AppTest of the Runs page on crafted run folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlcore.core.settings import Settings
from tests.conftest import PROJECT_ROOT
from tests.run_fixture import make_run

PAGE = str(PROJECT_ROOT / "pages" / "runs.py")


@pytest.fixture(autouse=True)
def fresh_caches() -> None:
    st.cache_data.clear()


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _open(settings: Settings, run: str | None = None, view: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    if run:
        at.selectbox(key="runs.pick").set_value(run).run()
        assert not at.exception, at.exception
    if view:
        at.segmented_control(key="runs.view").set_value(view).run()
        assert not at.exception, at.exception
    return at


def test_without_runs_the_page_says_what_to_do(settings: Settings) -> None:
    at = _open(settings)
    assert "No runs yet" in _texts(at.info) and at.text_input(key="runs.attach_path")


def test_the_browser_lists_and_filters_runs_and_one_run_shows_its_metrics(settings: Settings) -> None:
    make_run(settings.outputs_root, "logos/v1", epochs=6)
    make_run(settings.outputs_root, "logos/v2", epochs=9, model_architecture="yolov8s")
    make_run(settings.outputs_root, "shapes/a", epochs=3, augmentation={"mosaic": 0.3, "degrees": 5.0})
    at = _open(settings, "shapes/a", "Configuration")
    titles = [e.label for e in at.expander if e.label.startswith("Augmentation")]
    assert titles == ["Augmentation: degrees 5, mosaic 0.3"]
    at = _open(settings, "logos/v1")
    assert len(at.get("plotly_chart")) == 1  # the history: only the view looked at is drawn
    at.segmented_control(key="runs.view").set_value("Metrics").run()
    table = at.dataframe[0].value
    assert len(table) == 3 and set(table["architecture"]) == {"yolov8n", "yolov8s"}
    at.multiselect(key="runs.f_project").set_value(["logos"]).run()
    assert list(at.dataframe[0].value["project"]) == ["logos", "logos"]
    at.multiselect(key="runs.f_arch").set_value(["yolov8s"]).run()
    assert list(at.dataframe[0].value["experiment"]) == ["v2"]

    metrics = {m.label: m.value for m in at.metric}
    assert metrics["mAP50"] == "0.750" and metrics["mAP50-95"] == "0.500"
    at.toggle(key="runs.normalise").set_value(True).run()
    assert len(at.get("plotly_chart")) == 1 and not at.exception  # the confusion matrix
    at.segmented_control(key="runs.metric_view").set_value("Curves").run()
    at.segmented_control(key="runs.curve").set_value("F1-Confidence(B)").run()
    assert not at.exception and "Best F1 0.8" in _texts(at.caption)
    at.segmented_control(key="runs.metric_view").set_value("Per class").run()
    classes = next(d for d in at.dataframe if "ap50_95" in d.value.columns).value
    assert list(classes["class"]) == ["solara", "aqualine", "verdant"]


def test_comparing_runs_highlights_what_differs(settings: Settings) -> None:
    make_run(settings.outputs_root, "logos/v1", epochs=6)
    make_run(settings.outputs_root, "logos/v2", epochs=9, imgsz=320)
    at = _open(settings)
    at.segmented_control(key="runs.mode").set_value("Compare runs").run()
    assert "at least two runs" in _texts(at.info)
    at.multiselect(key="runs.compare").set_value(["logos/v1", "logos/v2"]).run()
    assert not at.exception, at.exception
    diff = at.dataframe[-1].value
    assert set(diff["setting"]) == {"epochs", "experiment", "imgsz"}
    figures = at.dataframe[-2].value
    assert list(figures.columns) == ["logos/v1", "logos/v2"] and figures.loc["epochs", "logos/v2"] == "9/9"


def test_a_damaged_metrics_file_a_zero_epoch_run_and_a_deleted_folder(settings: Settings) -> None:
    broken = make_run(settings.outputs_root, "logos/broken", epochs=4)
    (broken / "metrics.json").write_text('{"precision": 0.8, "cla')
    empty = make_run(settings.outputs_root, "logos/empty", epochs=4, metrics=False)
    (empty / "results.csv").write_text("")
    at = _open(settings, "logos/broken", view="Metrics")
    assert "cannot be read" in _texts(at.warning) and at.button(key=f"runs.compute.{broken}")
    at.selectbox(key="runs.pick").set_value("logos/empty").run()
    at.segmented_control(key="runs.view").set_value("History").run()
    assert "no completed epoch" in _texts(at.info) and not at.exception
    shutil.rmtree(empty)
    at.run()  # the folder vanished while shown
    assert not at.exception, at.exception
    assert at.selectbox(key="runs.pick").value == "logos/broken"


def test_attaching_outside_the_allowed_folders_is_refused(settings: Settings, tmp_path: Path) -> None:
    make_run(settings.outputs_root, "logos/v1")
    at = _open(settings)
    at.text_input(key="runs.attach_path").set_value(str(tmp_path)).run()
    at.button(key="runs.attach").click().run()
    assert "outside" in _texts(at.error) and not at.exception


def test_export_from_the_page_shows_the_pictures(settings: Settings) -> None:
    make_run(settings.outputs_root, "logos/v1")
    at = _open(settings, "logos/v1", view="Export")
    at.checkbox(key="runs.include_f1_curve").uncheck().run()
    at.button(key="runs.export").click().run()
    assert not at.exception, at.exception
    assert "Written to" in _texts(at.success) and len(at.get("image")) == 4
    folder = next((settings.outputs_root / "visualizations").iterdir())
    assert not (folder / "f1_curve.png").exists() and (folder / "report.html").exists()
