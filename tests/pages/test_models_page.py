"""AppTest of the Models page: empty states, a registry with versions, the gate, and a comparison."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlcore.core import paths
from mlcore.core.settings import Settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.registry.registration import register_model
from mlcore.registry.store import read_model
from tests.conftest import PROJECT_ROOT
from tests.evaluation_fixture import made_up_detections
from tests.registry_fixture import recorded_evaluation, run_with_weights, shifted

PAGE = str(PROJECT_ROOT / "pages" / "models.py")


@pytest.fixture(autouse=True)
def fresh_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def registry(settings: Settings) -> Path:
    data = settings.outputs_root / paths.DATASETS_DIR / "logos"
    make_demo_dataset(data, images=60, imgsz=96, seed=2)
    good = made_up_detections(data, "test", seed=3)
    for n, detections in ((1, shifted(good, 0.6)), (2, good)):
        weights = run_with_weights(settings.outputs_root, f"logos/v{n}", data, seed=n)
        register_model(str(weights), "logo-detector", settings, "ana", f"version {n}")
        copy = read_model(settings, "logo-detector").weights(read_model(settings, "logo-detector").version(n))
        recorded_evaluation(settings.outputs_root, data, copy, detections=detections, name=f"e{n}")
    return data


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _open() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def _view(at: AppTest, view: str) -> AppTest:
    at.segmented_control(key="models.view").set_value(view).run()
    assert not at.exception, at.exception
    return at


def test_an_empty_registry_says_what_to_do(settings: Settings) -> None:
    at = _open()
    assert "No registered model yet" in _texts(at.info)
    assert "No finished run with weights yet" in _texts(_view(at, "Register a model").info)
    assert "Nothing to compare yet" in _texts(_view(at, "Compare (A/B)").info)


def test_the_registry_shows_versions_metrics_lineage_and_the_gate(registry: Path) -> None:
    at = _open()
    table = at.dataframe[0].value
    assert list(table["version"]) == ["v2", "v1"]
    assert table["mAP50-95"].iloc[0] > table["mAP50-95"].iloc[1]  # v2's test-split evaluation is the better one
    assert table["measured on"].iloc[0] == "test"
    markdown = _texts(at.markdown)
    assert "Promotion gate for v2" in markdown and "evaluated on the test split" in markdown
    at.button(key="models.set.logo-detector.2").click().run()  # no production yet: the gate passes
    assert not at.exception, at.exception
    assert "**production** → v2" in _texts(at.markdown)
    at.button(key="models.archive.logo-detector.2").click().run()  # a version that carries an alias stays
    assert "move or remove those aliases before archiving it" in _texts(at.error)
    at.button(key="models.unalias.logo-detector.2").click().run()
    assert not at.exception, at.exception
    assert "no aliases yet" in _texts(at.markdown)


def test_registering_from_the_page_and_a_refused_name(settings: Settings, registry: Path) -> None:
    run_with_weights(settings.outputs_root, "logos/v3", registry, seed=3)
    at = _view(_open(), "Register a model")
    at.selectbox(key="models.register.name").set_value("New model…").run()
    at.text_input(key="models.register.new").set_value("Bad Name").run()
    at.button(key="models.register.go").click().run()
    assert "is not allowed" in _texts(at.error)
    at.text_input(key="models.register.new").set_value("second-detector").run()
    at.button(key="models.register.go").click().run()
    assert "Registered second-detector v1" in _texts(at.success)


def test_comparing_two_versions_shows_the_verdict_and_the_intervals(registry: Path) -> None:
    at = _view(_open(), "Compare (A/B)")
    assert (at.selectbox(key="models.a").value, at.selectbox(key="models.b").value) == (
        "logo-detector:1",
        "logo-detector:2",
    )
    at.selectbox(key="models.a").set_value("logo-detector:1").run()
    at.selectbox(key="models.b").set_value("logo-detector:2").run()
    at.selectbox(key="models.dataset").set_value(str(registry)).run()
    at.button(key="models.compare").click().run()
    assert not at.exception, at.exception
    assert "B is better: mAP50-95 +" in _texts(at.success)
    metrics = at.dataframe[0].value
    assert set(metrics["metric"]) == {"mAP50", "mAP50-95", "precision", "recall", "F1"}
    assert (metrics["95% low"] <= metrics["B − A"]).all() and (metrics["B − A"] <= metrics["95% high"]).all()
    assert len(at.image) >= 1, "the disagreeing images are drawn"


def test_the_form_follows_the_comparison_on_show(settings: Settings, registry: Path) -> None:
    """Compare again repeats what is shown: the demo dataset, first in the picker, is not silently taken instead."""
    make_demo_dataset(settings.demo_dataset_dir, images=12, imgsz=64, seed=1)
    at = _view(_open(), "Compare (A/B)")
    assert at.selectbox(key="models.dataset").value == str(settings.demo_dataset_dir)  # a fresh form's default
    at.selectbox(key="models.b").set_value("logo-detector:2").run()
    at.selectbox(key="models.dataset").set_value(str(registry)).run()
    at.button(key="models.compare").click().run()
    assert "B is better" in _texts(at.success)

    later = _view(_open(), "Compare (A/B)")  # another session: the comparison on logos is shown
    assert later.selectbox(key="models.dataset").value == str(registry)
    assert (later.selectbox(key="models.a").value, later.selectbox(key="models.b").value) == (
        "logo-detector:1",
        "logo-detector:2",
    )
