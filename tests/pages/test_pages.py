"""AppTest: every page file and the frame run without exception; the status page shows what it should."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlcore.core.settings import Settings
from mlcore.devices import gpus, torch_probe
from mlcore.devices.torch_probe import TorchProbe
from tests.conftest import PROJECT_ROOT
from tests.fake_nvml import FakeNvml, three_gpus

PAGE_FILES = sorted((PROJECT_ROOT / "pages").glob("*.py"))
CUDA_PROBE = TorchProbe(
    ok=True,
    torch_version="2.14.1+cu130",
    cuda_build="13.0",
    cuda_available=True,
    device_count=1,
    devices=("NVIDIA H100 80GB HBM3",),
    cudnn_version=91000,
    seconds=1.5,
)


@pytest.fixture(autouse=True)
def isolated(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Temporary outputs, no GPU, an instant PyTorch probe that counts its calls."""
    st.cache_data.clear()
    calls: list[int] = []

    def fake_probe(_settings: Settings, timeout: float = 0) -> TorchProbe:
        calls.append(1)
        return CUDA_PROBE

    monkeypatch.setattr(torch_probe, "probe_torch", fake_probe)
    monkeypatch.setattr(gpus, "_load_nvml", lambda: FakeNvml([], init_error="NVML Shared Library Not Found"))
    return calls


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


@pytest.mark.parametrize("page", PAGE_FILES, ids=[p.stem for p in PAGE_FILES])
def test_every_page_runs_without_exception(page: Path) -> None:
    at = AppTest.from_file(str(page), default_timeout=60).run()
    assert not at.exception, at.exception


def test_the_frame_runs_the_default_page() -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "System status"


def test_status_without_gpu_explains_cpu_training() -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "status.py"), default_timeout=60).run()
    infos = _texts(at.info)
    assert "No GPU available" in infos and "NVML Shared Library Not Found" in infos
    assert "No training or evaluation job" in infos  # the jobs area's empty state
    labels = [m.label for m in at.metric]
    assert {"CPU", "Memory", "Disk (outputs)", "Load (1 min)"} <= set(labels)
    assert [e.label for e in at.expander] == ["CPU per core", "GPU not found", "Out of memory", "Training is slow"]


def test_status_with_three_gpus_shows_each_and_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpus, "_load_nvml", lambda: three_gpus(os.getpid()))
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "status.py"), default_timeout=60).run()
    assert not at.exception
    markdown = _texts(at.markdown)
    assert "GPU 0 · NVIDIA H100 80GB HBM3" in markdown and "GPU 2 · NVIDIA A100-SXM4-40GB" in markdown
    warnings = _texts(at.warning)
    assert "GPU 1 is at 91 °C" in warnings and "GPU 2 memory is 98% used" in warnings
    values = {m.label: m.value for m in at.metric}
    assert values["Sees CUDA"] == "yes" and values["CUDA devices"] == "1"
    assert "No GPU available" not in _texts(at.info)
    assert len(at.dataframe) == 1  # the processes of the one GPU that has some


def test_probe_is_cached_until_check_again(isolated: list[int]) -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "status.py"), default_timeout=60).run()
    at.run()
    assert len(isolated) == 1
    at.button[0].click().run()
    assert len(isolated) == 2 and not at.exception


def test_bad_configuration_is_a_message_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ML_STUDIO_PORT", "eighty")
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "status.py"), default_timeout=60).run()
    assert not at.exception
    assert "ML_STUDIO_PORT" in _texts(at.error)


DATASETS_PAGE = str(PROJECT_ROOT / "pages" / "datasets.py")


@pytest.fixture
def broken_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dataset with one error (class id 7) and one background, the only dataset under the roots."""
    from tests.dataset_builder import clean_dataset

    root = clean_dataset(tmp_path / "roots" / "shapes")
    (root / "labels" / "train" / "train_0.txt").write_text("0 0.3 0.4 0.2 0.3\n7 0.5 0.5 0.2 0.2\n")
    (root / "labels" / "train" / "train_1.txt").write_text("")
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(tmp_path / "roots"))
    return root


def _validate(at: AppTest, dataset: Path) -> AppTest:
    at.selectbox(key="datasets.pick").set_value(str(dataset)).run()
    at.button(key="datasets.validate").click().run()
    return at


def test_validation_page_without_datasets_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nothing").mkdir()
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(tmp_path / "nothing"))
    at = AppTest.from_file(DATASETS_PAGE, default_timeout=60).run()
    assert not at.exception
    assert at.selectbox(key="datasets.pick").value == "Type a path…"
    assert "make run" in _texts(at.info) and at.button(key="datasets.validate").disabled


def test_validation_page_finds_the_error_and_shows_its_image(broken_dataset: Path) -> None:
    at = _validate(AppTest.from_file(DATASETS_PAGE, default_timeout=60).run(), broken_dataset)
    assert not at.exception, at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Images"] == "16" and values["Errors"] == "1" and values["Classes"] == "2"
    assert "Not ready" in _texts(at.error)
    picker = at.selectbox(key="datasets.issue")
    first = picker.options[0]
    assert "class_out_of_range" in first and "train_0.txt:2" in first
    picker.select_index(0).run()
    assert not at.exception
    assert "class id 7 does not exist" in _texts(at.markdown) or "class id 7 does not exist" in _texts(at.get("text"))
    captions = [getattr(img, "caption", None) or img.proto.imgs[0].caption for img in at.get("image")]
    assert "images/train/train_0.jpg" in captions  # the image of the issue, with its boxes drawn
    assert len(captions) == 1 + 8  # and the gallery tab's eight examples of the first class
    assert any("→    2 | 7 0.5 0.5 0.2 0.2" in c.value for c in at.code)  # the offending line, marked


def test_the_issues_table_leaves_the_line_empty_where_an_issue_has_none(broken_dataset: Path) -> None:
    at = _validate(AppTest.from_file(DATASETS_PAGE, default_timeout=60).run(), broken_dataset)
    table = next(d.value for d in at.dataframe if "line" in d.value.columns)
    assert "2" in set(table["line"]) and "" in set(table["line"])  # the class id 7 on line 2; the background image
    assert all(isinstance(v, str) for v in table["line"])  # nothing that a table shows as "None"


def test_validation_page_remembers_the_last_report(broken_dataset: Path) -> None:
    _validate(AppTest.from_file(DATASETS_PAGE, default_timeout=60).run(), broken_dataset)
    again = AppTest.from_file(DATASETS_PAGE, default_timeout=60).run()  # a new session, nothing clicked
    again.selectbox(key="datasets.pick").set_value(str(broken_dataset)).run()
    assert "Last validated" in _texts(again.caption)
    assert {m.label: m.value for m in again.metric}["Errors"] == "1"


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("/etc", "outside the allowed folders"),
        ("/no/such/place", "outside the allowed folders"),
        ("{roots}/nothere", "does not exist"),
    ],
)  # a missing path outside the roots is refused like any other there: refusals never tell what exists
def test_validation_page_refuses_bad_paths_with_a_message(broken_dataset: Path, typed: str, fragment: str) -> None:
    at = AppTest.from_file(DATASETS_PAGE, default_timeout=60).run()
    at.selectbox(key="datasets.pick").set_value("Type a path…").run()
    at.text_input(key="datasets.typed").input(typed.format(roots=broken_dataset.parent)).run()
    assert not at.exception and fragment in _texts(at.error)
    at.button(key="datasets.validate").click().run()
    assert not at.exception and not at.metric  # nothing validated


def test_validation_page_reports_an_unreadable_dataset(tmp_path: Path, broken_dataset: Path) -> None:
    empty = broken_dataset.parent / "empty"
    empty.mkdir()
    at = AppTest.from_file(DATASETS_PAGE, default_timeout=60).run()
    at.selectbox(key="datasets.pick").set_value("Type a path…").run()
    at.text_input(key="datasets.typed").input(str(empty)).run()
    at.button(key="datasets.validate").click().run()
    assert not at.exception and "cannot be read" in _texts(at.error)


def test_validation_page_shows_file_names_that_are_not_utf8(broken_dataset: Path) -> None:
    import os

    odd = os.fsencode(broken_dataset / "images" / "train") + b"/caf\xe9.jpg"
    with open(odd, "wb") as f:
        f.write(b"not an image")
    at = _validate(AppTest.from_file(DATASETS_PAGE, default_timeout=60).run(), broken_dataset)
    assert not at.exception, at.exception
    picker = at.selectbox(key="datasets.issue")
    assert any("caf\\udce9.jpg" in option for option in picker.options)


def test_a_deleted_report_is_forgotten_not_a_crash(broken_dataset: Path, settings: Settings) -> None:
    import shutil

    at = _validate(AppTest.from_file(DATASETS_PAGE, default_timeout=60).run(), broken_dataset)
    st.cache_data.clear()
    shutil.rmtree(settings.outputs_root / "dataset_reports")
    at.run()
    assert not at.exception and not at.metric
    assert "not been validated yet" in _texts(at.info)


def test_status_lists_running_and_queued_jobs(settings: Settings) -> None:
    import json

    from mlcore.core import paths
    from mlcore.jobs.store import JobState, JobStore

    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    running = store.submit("training", {"epochs": 3}, str(settings.outputs_root / "trainings" / "logos" / "v1"))
    store.submit("training", {"epochs": 3}, str(settings.outputs_root / "trainings" / "logos" / "v2"))
    done = store.submit("training", {}, str(settings.outputs_root / "trainings" / "logos" / "v0"))
    store.transition(running.id, JobState.STARTING, device="cpu")
    me = psutil.Process()  # a live process stands in for the worker: a look at the jobs reconciles dead ones
    store.transition(running.id, JobState.RUNNING, pid=me.pid, pid_started=me.create_time())
    for state in (JobState.STARTING, JobState.RUNNING, JobState.COMPLETED):
        store.transition(done.id, state)
    run_dir = Path(running.run_dir)
    run_dir.mkdir(parents=True)
    (run_dir / "progress.json").write_text(json.dumps({"epoch": 2, "epochs": 3, "percent": 55.0, "eta_s": 90}))
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "status.py"), default_timeout=60).run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert list(table["Run"]) == ["logos/v1", "logos/v2"]  # the completed job is not listed
    assert list(table["State"]) == ["running", "queued (#1)"] and table["Epoch"][0] == "2/3"
    assert table["Progress"][0] == pytest.approx(0.55) and table["ETA"][0] == "1.5 min"
    assert "No training or evaluation job" not in _texts(at.info)


def test_reading_the_status_never_creates_the_job_database(settings: Settings) -> None:
    from mlcore.system.status import jobs_overview

    assert jobs_overview(settings.outputs_root) == []
    assert not (settings.outputs_root / "jobs.db").exists()


def test_status_with_an_unreachable_ray_cluster_says_so_and_shows_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("ML_STUDIO_RAY_ADDRESS", f"http://127.0.0.1:{free_port()}")
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "status.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert "Ray cluster" in [h.value for h in at.subheader]
    assert any("cannot be reached" in w.value and "jobs run on this machine" in w.value for w in at.warning)
    assert {"CPU", "Memory"} <= {m.label for m in at.metric}  # this machine is shown as always
