"""The real app in a real browser: `streamlit run app.py` driven by headless Chromium (Playwright).

Chromium comes from Debian (`make test` installs it); Playwright is told where it is, since it
cannot download its own browsers here. A failed test leaves a screenshot and the server log in
test-output/.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlcore.core import paths
from mlcore.core.settings import load_settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.jobs.store import JobState, JobStore
from tests.conftest import PROJECT_ROOT, TEST_OUTPUT, free_port
from tests.run_fixture import occupy_the_cpu, results_csv

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PAGE_FILES = sorted((PROJECT_ROOT / "pages").glob("*.py"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} was not healthy within {timeout:.0f} s")


@contextmanager
def app_server(outputs: Path, log: Path) -> Iterator[Server]:
    """The app on a free port of 127.0.0.1, started as `python -m mlcore app` starts it, writing to `outputs`."""
    port = free_port()
    command = [
        sys.executable,
        "serve_app.py",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
    ]
    with log.open("a") as out:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**os.environ, "ML_STUDIO_OUTPUTS": str(outputs)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield Server(url, process, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("browser")
    make_demo_dataset(work / "ml_outputs" / "datasets" / "demo", images=100)
    with app_server(work / "ml_outputs", work / "streamlit.log") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run `make test` (it installs it) or `apt-get install chromium`."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server: Server, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    tab = context.new_page()
    yield tab
    failed = getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    if failed:
        TEST_OUTPUT.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        tab.screenshot(path=str(TEST_OUTPUT / f"{name}.png"), full_page=True)
        shutil.copy(server.log, TEST_OUTPUT / f"{name}.streamlit.log")
    context.close()


def _url_path(page_file: Path) -> str:
    """The address of a page: '' for app.py's default page, else the file's stem."""
    frame = (PROJECT_ROOT / "app.py").read_text()
    call = frame[frame.index(f'"pages/{page_file.name}"') :].split(")", 1)[0]
    return "" if "default=True" in call else page_file.stem


def _choose(tab, label: str, option: str, attempts: int = 5) -> None:
    """Pick an option of a selectbox; retried, since a rerun still drawing the page can close the list."""
    for attempt in range(attempts):
        tab.get_by_test_id("stSelectbox").filter(has_text=label).click()
        choice = tab.get_by_role("option").filter(has_text=option).first
        try:
            choice.wait_for(timeout=5_000)
            choice.click(timeout=5_000)  # a list drawn while the page still moves can open outside the viewport
        except Exception:
            if attempt == attempts - 1:
                raise
            tab.keyboard.press("Escape")
            tab.wait_for_timeout(1_000)
            continue
        return


def _open(tab, url: str) -> None:
    tab.goto(url)
    tab.wait_for_selector("[data-testid='stAppViewContainer']", timeout=60_000)
    tab.wait_for_selector("h1", timeout=60_000)


def test_a_deep_link_on_a_fresh_server_gets_the_whole_frame(page, server: Server) -> None:
    """Runs first: before any session has opened the root address, /datasets still has the frame."""
    _open(page, f"{server.url}/datasets")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("System status").wait_for(timeout=30_000)  # the titles of app.py's navigation
    assert sidebar.get_by_text("Dataset validation").count() == 1
    assert sidebar.get_by_text("app", exact=True).count() == 0  # not the legacy page list


def test_validating_the_demo_dataset_and_opening_an_issue(page, server: Server) -> None:
    _open(page, f"{server.url}/datasets")
    page.get_by_role("button", name="Validate").wait_for(timeout=30_000)
    page.get_by_role("button", name="Validate").click()
    page.get_by_text("Ready to train").first.wait_for(timeout=120_000)
    assert page.get_by_test_id("stMetricValue").first.inner_text() == "100"
    _choose(page, "Look at an issue", "background_image")
    page.get_by_text("INFO · background_image").wait_for(timeout=30_000)
    page.get_by_text("a background image").filter(visible=True).first.wait_for(timeout=30_000)  # not a table cell
    page.locator("[data-testid='stImage'] img").first.wait_for(timeout=30_000)  # drawn after the text appears
    page.get_by_role("tab", name="Charts").click()
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0


@pytest.mark.parametrize("page_file", PAGE_FILES, ids=[p.stem for p in PAGE_FILES])
def test_every_page_opens_without_an_exception(page, server: Server, page_file: Path) -> None:
    _open(page, f"{server.url}/{_url_path(page_file)}")
    page.wait_for_timeout(4000)  # let fragments and cached probes finish their first run
    assert page.locator("[data-testid='stException']").count() == 0
    assert "Page not found" not in page.inner_text("body")


def test_status_page_is_live_and_complete(page, server: Server) -> None:
    _open(page, server.url)
    assert page.locator("h1").first.inner_text() == "System status"
    page.get_by_text(re.compile(r"Checked in \d+\.\d s")).wait_for(timeout=60_000)  # the PyTorch probe answered
    page.get_by_text(re.compile(r"^2\.14\.1")).first.wait_for(timeout=10_000)
    page.get_by_role("heading", name="Does PyTorch see CUDA?").wait_for(timeout=10_000)
    body = page.inner_text("body")
    for label in ("CPU", "Memory", "Disk (outputs)", "Load (1 min)"):
        assert page.get_by_test_id("stMetricLabel").filter(has_text=label).count() >= 1
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=30_000)  # the sparklines, drawn after the metrics
    assert "No GPU available" in body or "GPU 0 ·" in body
    first = page.get_by_text(re.compile(r"Updated \d\d:\d\d:\d\d")).inner_text()
    page.wait_for_function(
        "first => !document.body.innerText.includes(first)", arg=first.split(" ·")[0], timeout=15_000
    )  # the fragment redrew the figures by itself
    page.locator("summary").filter(has_text="GPU not found").click()
    page.get_by_text("torch.cuda.is_available()").wait_for(timeout=10_000)
    assert page.locator("[data-testid='stException']").count() == 0


def _progress_values(tab) -> list[float]:
    bars = tab.locator("[data-testid='stProgress'] [role='progressbar']")
    return [float(bars.nth(i).get_attribute("aria-valuenow") or 0) for i in range(bars.count())]


def _start_training_from_the_page(tab, experiment: str) -> None:
    tab.get_by_role("button", name="Start training").wait_for(timeout=30_000)
    for label, value in (("Epochs", "1"), ("Image size", "64"), ("Batch size", "16"), ("Experiment", experiment)):
        field = tab.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
        tab.wait_for_timeout(500)
    _choose(tab, "Device", "CPU")
    tab.locator("summary").filter(has_text="Advanced").click()
    workers = tab.get_by_label("Data loader workers", exact=True)
    workers.fill("0")
    workers.press("Enter")
    tab.wait_for_timeout(1_000)
    tab.get_by_role("button", name="Start training").click()


def test_a_one_epoch_training_started_from_the_page(page, server: Server) -> None:
    _open(page, f"{server.url}/training")
    _start_training_from_the_page(page, "browser")
    page.get_by_text(re.compile(r"default/browser")).first.wait_for(timeout=60_000)  # listed among the jobs
    seen: set[float] = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not page.locator(".js-plotly-plot").count():
        seen |= set(_progress_values(page))
        page.wait_for_timeout(300)
    assert page.locator(".js-plotly-plot").count() >= 1, "the training chart never appeared"
    assert len(seen) >= 2, f"the progress bar did not move: {sorted(seen)}"
    page.get_by_text("Recently finished").wait_for(timeout=180_000)  # the job ended and is listed as such
    epochs_done = page.get_by_test_id("stMetric").filter(has_text="Epochs done").get_by_test_id("stMetricValue")
    deadline = time.monotonic() + 30
    while epochs_done.first.inner_text().strip() != "1" and time.monotonic() < deadline:
        page.wait_for_timeout(300)  # the page redraws once more when the job has ended
    assert epochs_done.first.inner_text().strip() == "1"
    assert page.locator("[data-testid='stException']").count() == 0


def _epochs_drawn(tab) -> int:
    """How many epochs the run view's first chart draws (its first trace's points)."""
    return tab.evaluate(
        "() => { const p = document.querySelector('.js-plotly-plot');"
        " return p && p._fullData && p._fullData.length ? p._fullData[0].x.length : 0; }"
    )


def _wait_for_epochs(tab, count: int, seconds: float = 45) -> None:
    done = tab.get_by_test_id("stMetric").filter(has_text="Epochs done").get_by_test_id("stMetricValue").first
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (done.inner_text().strip(), _epochs_drawn(tab)) != (str(count), count):
        tab.wait_for_timeout(500)
    assert (done.inner_text().strip(), _epochs_drawn(tab)) == (str(count), count)


def test_the_live_charts_follow_a_growing_results_csv_and_its_end(page, server: Server) -> None:
    """A training writes results.csv epoch by epoch: the open page draws each new epoch, and the last ones
    once the job has ended."""
    settings = load_settings({**os.environ, "ML_STUDIO_OUTPUTS": str(Path(server.log).parent / "ml_outputs")})
    job_id = occupy_the_cpu(settings)  # a running training held by this test: other/busy
    run = settings.outputs_root / "trainings" / "other" / "busy"
    try:
        (run / "training_config.yaml").write_text("mode: full\ndataset_path: d\nepochs: 6\nproject: other\n")
        (run / "results.csv").write_text(results_csv(6).split("\n2,")[0] + "\n")
        _open(page, f"{server.url}/training")
        page.get_by_text("other/busy").first.wait_for(timeout=30_000)
        _wait_for_epochs(page, 1)
        (run / "results.csv").write_text(results_csv(6).split("\n4,")[0] + "\n")
        _wait_for_epochs(page, 3)  # drawn by the live refresh, with no click
    finally:
        (run / "results.csv").write_text(results_csv(6))
        JobStore(settings.outputs_root / paths.JOBS_DB).transition(job_id, JobState.COMPLETED)
    _wait_for_epochs(page, 6)  # the job ended: the page reads the file once more
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_finished_run_shows_its_curves_and_confusion_matrix_and_exports_offline(page, server: Server) -> None:
    outputs = Path(server.log).parent / "ml_outputs"
    env = {**os.environ, "ML_STUDIO_OUTPUTS": str(outputs), "PYTHONPATH": str(PROJECT_ROOT)}
    train = [
        sys.executable,
        "-m",
        "mlcore",
        "train",
        "--data",
        str(outputs / "datasets" / "demo"),
        "--epochs",
        "2",
        "--imgsz",
        "64",
        "--batch",
        "16",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--project",
        "browser",
        "--experiment",
        "finished",
        "--wait",
    ]
    done = subprocess.run(train, env=env, capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]

    _open(page, f"{server.url}/runs")
    _choose(page, "Run", "browser/finished")
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)  # the training history
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="Metrics").click()
    page.get_by_text("Normalise per true class").wait_for(timeout=30_000)
    page.locator(".js-plotly-plot .heatmaplayer").first.wait_for(timeout=30_000)
    assert page.locator(".js-plotly-plot .heatmaplayer").count() >= 1  # the confusion matrix
    assert page.locator("[data-testid='stException']").count() == 0

    exported = subprocess.run(
        [sys.executable, "-m", "mlcore", "visualize", "browser/finished"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
    )
    assert exported.returncode == 0, exported.stderr
    report = Path(exported.stdout.strip()) / "report.html"
    requests: list[str] = []

    def local_files_only(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort()

    page.route("**/*", local_files_only)
    page.goto(report.as_uri())
    page.locator(".js-plotly-plot").nth(4).wait_for(timeout=30_000)  # history, matrix, two curves, per class
    assert requests == []  # nothing was fetched from a network


def _metric(tab, label: str) -> str:
    return tab.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue").first.inner_text()


def test_the_confidence_slider_changes_the_numbers_and_the_gallery(page, server: Server) -> None:
    from tests.evaluation_fixture import make_evaluation

    outputs = Path(server.log).parent / "ml_outputs"
    make_evaluation(outputs, outputs / "datasets" / "demo", "browser_best_20261101-120000-000000")
    _open(page, f"{server.url}/evaluation")
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="Gallery").click()
    count = page.get_by_text(re.compile(r"^\d+ image\(s\), most errors first"))
    count.wait_for(timeout=30_000)
    page.locator("[data-testid='stImage'] img").first.wait_for(timeout=30_000)  # the drawn error samples
    before = (_metric(page, "Recall"), count.inner_text())

    slider = page.get_by_test_id("stSlider").filter(has_text="Confidence threshold").get_by_role("slider")
    slider.focus()
    slider.press("End")  # to 0.99: most predictions drop out
    deadline = time.monotonic() + 30
    while _metric(page, "Recall") == before[0] and time.monotonic() < deadline:
        page.wait_for_timeout(300)
    assert _metric(page, "Recall") != before[0]
    count.wait_for(timeout=30_000)
    assert count.inner_text() != before[1]  # more objects are missed now: more images with errors

    page.get_by_role("button", name="Larger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.locator("img").first.wait_for(timeout=30_000)
    assert dialog.get_by_text(re.compile(r"^images/val/val_\d+\.jpg$")).count() == 1  # the larger view of one image
    assert page.locator("[data-testid='stException']").count() == 0


def test_the_gallerys_why_draws_an_errors_heatmap_beside_the_image(page, server: Server, trained: dict) -> None:
    from tests.evaluation_fixture import make_evaluation

    outputs = Path(server.log).parent / "ml_outputs"
    weights = outputs / "trainings" / "logos" / "v1" / "weights" / "best.pt"  # the evaluation's model: a real one
    weights.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trained["model"], weights)
    make_evaluation(outputs, outputs / "datasets" / "demo", "why_best_20261101-120000-000000")
    _open(page, f"{server.url}/evaluation")
    _choose(page, "Evaluation", "why_best")
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="Gallery").click()
    page.get_by_role("button", name="Why?").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Why?").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(re.compile(r"The model scored|For the true class")).first.wait_for(timeout=180_000)
    assert dialog.locator("[data-testid='stImage'] img").count() >= 2  # the image, then the heatmap beside it
    assert dialog.get_by_text(re.compile(r"\d+% of the map lies inside the box")).count() >= 1
    assert dialog.get_by_test_id("stSlider").filter(has_text="Heatmap opacity").count() == 1
    assert page.locator("[data-testid='stException']").count() == 0


def test_uploading_a_zipped_dataset_extracts_and_validates_it_and_a_zip_slip_is_refused(
    page, server: Server, tmp_path: Path
) -> None:
    import zipfile

    dataset = make_demo_dataset(tmp_path / "logos", images=24, imgsz=96, seed=3).root
    good, evil = tmp_path / "uploaded-logos.zip", tmp_path / "evil.zip"
    with zipfile.ZipFile(good, "w") as archive:
        for path in dataset.rglob("*"):
            if path.is_file():
                archive.write(path, f"logos/{path.relative_to(dataset)}")
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("data.yaml", "names: [a]\n")
        archive.writestr("../../escaped.txt", "x")

    _open(page, f"{server.url}/datasets")
    page.locator("summary").filter(has_text="Upload a dataset").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(evil))
    page.get_by_role("button", name="Extract and validate").click()
    page.get_by_text("climbs out of its folder").wait_for(timeout=30_000)
    assert not (Path(server.log).parent / "escaped.txt").exists()

    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(good))
    page.get_by_role("button", name="Extract and validate").wait_for(timeout=30_000)
    page.wait_for_timeout(1_000)
    page.get_by_role("button", name="Extract and validate").click()
    page.get_by_text(re.compile("Extracted to")).wait_for(timeout=60_000)
    page.get_by_text(re.compile("Ready to train")).first.wait_for(timeout=120_000)  # validated at once
    assert (Path(server.log).parent / "ml_outputs" / "datasets" / "uploads" / "uploaded-logos" / "logos").is_dir()
    assert page.locator("[data-testid='stException']").count() == 0


def _wait_or_explain(tab, target, outputs: Path, seconds: float) -> None:
    """Wait for `target`; on timeout fail with the jobs, their log tails and the page's text, to tell why."""
    try:
        target.wait_for(timeout=seconds * 1000)
        return
    except Exception:
        pass
    from mlcore.jobs.progress import log_tail
    from mlcore.jobs.store import JobStore

    jobs = JobStore(outputs / "jobs.db").list()
    told = [f"{j.kind} {j.id} {j.state.value} {j.run_dir} error={j.error!r}" for j in jobs]
    tails = [f"--- {j.run_dir}\n{log_tail(j.run_dir, 15, kind=j.kind)}" for j in jobs[-3:]]
    text = tab.locator("body").inner_text(timeout=10_000)[-1500:]
    pytest.fail(
        f"not shown within {seconds:.0f} s.\nJobs:\n" + "\n".join(told) + "\n" + "\n".join(tails) + f"\nPage:\n{text}"
    )


def test_the_whole_journey_validate_train_look_evaluate_and_export(page, server: Server) -> None:
    """The demo dataset from validation to exported charts, as a user goes through it."""
    from playwright.sync_api import expect

    _open(page, f"{server.url}/datasets")
    page.get_by_role("button", name="Validate").click()
    page.get_by_text("Ready to train").first.wait_for(timeout=120_000)

    _open(page, f"{server.url}/training")
    _start_training_from_the_page(page, "journey")
    page.get_by_text(re.compile(r"default/journey")).first.wait_for(timeout=60_000)
    page.locator("[data-testid='stProgress']").first.wait_for(timeout=60_000)  # the progress bar
    page.locator(".js-plotly-plot").first.wait_for(timeout=300_000)  # the live chart, after the epoch
    outputs = Path(server.log).parent / "ml_outputs"
    weights = outputs / "trainings" / "default" / "journey" / "weights" / "best.pt"
    deadline = time.monotonic() + 180
    while not (weights.exists() and (weights.parent.parent / "metrics.json").exists()) and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    assert weights.exists(), "the training did not finish"

    _open(page, f"{server.url}/runs")
    _choose(page, "Run", "default/journey")
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)  # its history
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="Metrics").click()
    page.locator(".js-plotly-plot .heatmaplayer").first.wait_for(timeout=30_000)  # its confusion matrix

    _open(page, f"{server.url}/evaluation")
    form = page.locator("details").filter(has_text="New evaluation").first
    form.wait_for(timeout=30_000)
    if form.get_attribute("open") is None:  # open by itself only while there is no evaluation yet
        form.locator("summary").click()
    _choose(page, "Model", "default/journey/weights/best.pt")
    dataset = page.get_by_role("combobox", name="Dataset")
    expect(dataset).to_have_value(re.compile(r"\(demo dataset\)$"), timeout=30_000)  # the one it was trained on
    _choose(page, "Split", "test")
    expect(page.get_by_label("Image size (0 = the trained size)", exact=True)).to_have_value("0")
    page.get_by_text("Trained at 64 px.").wait_for(timeout=30_000)  # 0: the evaluation runs at the trained size
    _choose(page, "Device", "cpu")
    page.wait_for_timeout(1_000)
    page.get_by_role("button", name="Evaluate").click()
    page.locator("code").filter(has_text="default/journey/weights/best.pt").first.wait_for(timeout=60_000)  # shown
    _wait_or_explain(page, page.get_by_test_id("stMetric").filter(has_text="Recall").first, outputs, 300)  # evaluated
    page.get_by_text("at 64 px, the size the model was trained at").first.wait_for(timeout=10_000)
    thresholds = page.get_by_test_id("stSlider").filter(has_text="Confidence threshold").last
    thresholds.get_by_role("slider").focus()
    thresholds.get_by_role("slider").press("Home")  # to 0.01 (a one-epoch model's numbers may not move)
    shown = thresholds.get_by_test_id("stSliderThumbValue")
    deadline = time.monotonic() + 30
    while shown.inner_text().strip() != "0.01" and time.monotonic() < deadline:
        page.wait_for_timeout(300)
    assert shown.inner_text().strip() == "0.01"
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="Gallery").click()
    page.get_by_role("button", name="Larger").first.click()
    page.get_by_role("dialog").locator("img").first.wait_for(timeout=30_000)  # an error sample, larger
    page.keyboard.press("Escape")

    _open(page, f"{server.url}/runs")
    _choose(page, "Run", "default/journey")
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="Export").click()
    page.get_by_role("button", name="Export").click()
    page.get_by_text(re.compile("Written to")).wait_for(timeout=120_000)
    assert list((outputs / "visualizations").glob("journey_*/report.html"))
    assert page.locator("[data-testid='stException']").count() == 0


def test_exporting_from_the_page_shows_the_parity_verdict_and_the_latency(
    page, server: Server, trained: dict[str, str]
) -> None:
    models = server.log.parent / "ml_outputs" / "models"
    models.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trained["model"], models / "fitted.pt")  # a model of the demo dataset's five logos
    _open(page, f"{server.url}/export")
    page.get_by_text("New export").first.wait_for(timeout=30_000)
    _choose(page, "Model", "fitted.pt")
    page.get_by_role("button", name="Export").click()
    verdict = page.get_by_text(re.compile(r"onnx fp32: (passed|failed)"))
    verdict.first.wait_for(timeout=420_000)  # queued, converted, both models evaluated, timed
    assert "passed" in verdict.first.inner_text(), verdict.first.inner_text()
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)  # the latency bars
    page.get_by_role("button", name="Download the export (zip)").wait_for(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0


def test_uploading_an_image_on_the_predict_page_draws_its_boxes(page, server: Server, trained: dict[str, str]) -> None:
    from mlcore.core.settings import load_settings
    from mlcore.predict.profile import DeploymentProfile, save_profile
    from tests.predict.test_predict import direct

    outputs = server.log.parent / "ml_outputs"
    model = outputs / "models" / "fitted.pt"
    model.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trained["model"], model)
    save_profile(DeploymentProfile(confidence=0.05), model, load_settings({"ML_STUDIO_OUTPUTS": str(outputs)}))
    images = sorted(Path(trained["data"]).glob("images/train/*.jpg"))[:6]
    found = direct({"model": model, "outputs": outputs}, images, conf=0.05)
    image, boxes = next((i, len(b)) for i, b in zip(images, found, strict=True) if b)
    _open(page, f"{server.url}/predict")
    _choose(page, "Model", "fitted.pt")
    page.get_by_text("Deployment profile: confidence 0.05").wait_for(timeout=30_000)
    page.locator("input[type='file']").first.set_input_files(str(image))
    page.get_by_text(image.name).first.wait_for(timeout=30_000)  # the upload is listed
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text(f"{image.name}: {boxes} detections").wait_for(timeout=180_000)
    page.locator("[data-testid='stImage'] img").first.wait_for(timeout=30_000)  # drawn after its caption
    page.get_by_role("button", name="Annotated image").wait_for(timeout=10_000)
    assert page.locator("[data-testid='stException']").count() == 0


def test_registering_two_versions_comparing_them_and_promoting_one(page, server: Server) -> None:
    from tests.evaluation_fixture import made_up_detections
    from tests.registry_fixture import recorded_evaluation, run_with_weights, shifted

    outputs = server.log.parent / "ml_outputs"
    demo = outputs / "datasets" / "demo"
    good = made_up_detections(demo, "test", seed=3)
    for n, detections in ((1, shifted(good, 0.6)), (2, good)):  # v2 finds the logos v1 misplaces
        weights = run_with_weights(outputs, f"ab/v{n}", demo, seed=40 + n)
        recorded_evaluation(outputs, demo, weights, detections=detections, name=f"ab_v{n}_test")
    _open(page, f"{server.url}/models")
    page.get_by_text("No registered model yet").wait_for(timeout=30_000)
    views = page.get_by_test_id("stButtonGroup")
    views.get_by_role("radio", name="Register a model").click()
    for n in (1, 2):
        _choose(page, "Run", f"ab/v{n}")
        if n == 2:
            _choose(page, "Model name", "logo-detector")
        page.get_by_role("button", name="Register", exact=True).click()
        page.get_by_text(f"Registered logo-detector v{n}.").wait_for(timeout=30_000)

    views.get_by_role("radio", name="Registry").click()
    _choose(page, "Version", "v1")
    page.get_by_role("button", name="Set production → v1").click()
    page.get_by_text("production → v1").first.wait_for(timeout=30_000)
    _choose(page, "Version", "v2")
    page.get_by_role("button", name="Compare with production").click()
    page.get_by_role("button", name="Compare", exact=True).wait_for(timeout=30_000)
    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_text(re.compile(r"^B is better: mAP50-95 \+")).first.wait_for(timeout=60_000)
    page.locator("[data-testid='stImage'] img").first.wait_for(timeout=30_000)  # the images where they disagree
    page.get_by_role("button", name="Download the HTML report").wait_for(timeout=10_000)

    views.get_by_role("radio", name="Registry").click()
    _choose(page, "Version", "v2")
    page.get_by_text(re.compile(r"A/B with production v1 .*B is better")).wait_for(timeout=30_000)
    page.get_by_role("button", name="Set production → v2").click()
    page.get_by_text("production → v2").first.wait_for(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_small_study_started_from_the_tuning_page_shows_its_trials(page, server: Server) -> None:
    _open(page, f"{server.url}/tuning")
    page.get_by_role("button", name="Start the study").wait_for(timeout=30_000)
    for label, value in (
        ("Study name", "browser-study"),
        ("Trials (budget)", "2"),
        ("Epochs per trial", "1"),
        ("Image size", "64"),
        ("Batch size", "16"),
    ):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
        page.wait_for_timeout(500)
    _choose(page, "Device", "cpu")
    page.get_by_role("button", name="Start the study").click()
    trials = page.get_by_test_id("stMetric").filter(has_text="Trials").get_by_test_id("stMetricValue")
    trials.first.wait_for(timeout=60_000)
    deadline = time.monotonic() + 120
    while trials.first.inner_text().strip() in ("", "0") and time.monotonic() < deadline:
        page.wait_for_timeout(500)  # the coordinator starts and asks Optuna for the first trial
    assert int(trials.first.inner_text()) >= 1, "no trial appeared"
    assert page.locator("[data-testid='stException']").count() == 0
    page.get_by_role("button", name="Cancel").click()
    state = page.get_by_test_id("stMetric").filter(has_text="State").get_by_test_id("stMetricValue")
    deadline = time.monotonic() + 60
    while state.first.inner_text().strip() != "cancelled" and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    assert state.first.inner_text().strip() == "cancelled"


def test_an_audits_gallery_shows_the_suspects_and_filters_them_by_type(page, server: Server) -> None:
    from mlcore.core.settings import load_settings
    from tests.quality_fixture import made_audit

    outputs = Path(server.log).parent / "ml_outputs"
    _job, document = made_audit(load_settings({"ML_STUDIO_OUTPUTS": str(outputs)}), outputs / "datasets" / "demo")
    counts = document["counts"]
    assert counts["suspects"] and counts["swapped"], "the made-up predictions should give swapped labels"
    _open(page, f"{server.url}/quality")
    page.get_by_test_id("stMetric").filter(has_text="Suspect boxes").first.wait_for(timeout=30_000)
    assert _metric(page, "Suspect boxes") == str(counts["suspects"])
    page.locator("[data-testid='stImage'] img").first.wait_for(timeout=30_000)  # the drawn suspects
    everything = page.get_by_text(re.compile(r"^\d+ suspect\(s\) drawn"))
    before = everything.inner_text()
    for other in ("overlooked (no label)", "badly located"):  # leave only the swapped classes
        page.get_by_test_id("stButtonGroup").get_by_role("button", name=other).click()
        page.wait_for_timeout(500)
    swapped = sum(1 for i in document["issues"] if i["type"] == "swapped" and i.get("picture"))
    page.get_by_text(re.compile(rf"^{swapped} suspect\(s\) drawn")).wait_for(timeout=30_000)
    assert page.get_by_text(re.compile(r"swapped class · \d+% likely an error")).count() >= 1
    assert before != f"{swapped} suspect"
    assert page.locator("[data-testid='stException']").count() == 0


def test_the_augmentation_preview_draws_samples_and_a_new_draw_on_demand(page, server: Server) -> None:
    _open(page, f"{server.url}/training")
    page.locator("summary").filter(has_text="Augmentation").click()
    mosaic = page.get_by_label("mosaic", exact=True)
    mosaic.fill("0")
    mosaic.press("Enter")
    page.wait_for_timeout(1_000)
    page.get_by_role("button", name="Preview", exact=True).click()
    page.get_by_text(re.compile(r"^Seed 0: mosaic 0$")).wait_for(timeout=120_000)
    first = page.locator("[data-testid='stImage'] img").first.get_attribute("src")
    page.get_by_role("button", name="New draw").click()
    page.get_by_text(re.compile(r"^Seed 1: mosaic 0$")).wait_for(timeout=120_000)
    assert page.locator("[data-testid='stImage'] img").first.get_attribute("src") != first
    assert page.get_by_text(re.compile(r"^Drawn in [\d.]+ s\. Each sample starts from")).count() == 1
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_leak_free_resplit_made_on_the_dataset_page_is_listed_and_compared(page, server: Server) -> None:
    _open(page, f"{server.url}/datasets")
    page.locator("summary").filter(has_text="Dataset versions").click()
    resplit = page.get_by_test_id("stTextInput").filter(has_text="Re-split").locator("input")
    resplit.fill("70/20/10")
    resplit.press("Enter")
    page.wait_for_timeout(1_000)
    page.get_by_role("button", name="Make the version").click()
    page.get_by_role("tab", name="Versions (1)").click()
    errors = page.get_by_test_id("stMetric").filter(has_text="Validation errors")
    errors.first.wait_for(timeout=90_000)
    assert errors.first.get_by_test_id("stMetricValue").inner_text().strip() == "0"
    assert _metric(page, "Images") == "100"
    page.get_by_role("tab", name="Compare").click()
    page.get_by_role("button", name="Compare", exact=True).click()
    moved = page.get_by_test_id("stMetric").filter(has_text="Images moved")
    moved.first.wait_for(timeout=60_000)
    assert _metric(page, "Images added") == "0" and _metric(page, "Images removed") == "0"
    assert int(_metric(page, "Images moved")) > 0  # the re-split moved images between splits
    assert page.locator("[data-testid='stException']").count() == 0


def test_the_video_tab_draws_a_line_tracks_the_demo_video_and_plays_the_result(
    page, server: Server, video_studio
) -> None:
    from playwright.sync_api import expect

    outputs = server.log.parent / "ml_outputs"
    model = outputs / "models" / "logo_tracker.pt"
    model.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(video_studio.model, model)
    _open(page, f"{server.url}/predict")
    _choose(page, "Model", "logo_tracker.pt")
    page.get_by_role("tab", name="Video").click()
    page.get_by_text(re.compile(r"640x448 · 24 fps · 240 frames")).wait_for(timeout=120_000)  # the demo video
    frame = page.get_by_test_id("stPlotlyChart").first
    frame.wait_for(timeout=60_000)
    frame.hover()
    frame.locator(".modebar-btn[data-val='select']").click()  # plotly's box tool
    area = frame.locator(".nsewdrag").first.bounding_box()
    x, y, w, h = area["x"], area["y"], area["width"], area["height"]
    page.mouse.move(x + 0.25 * w, y + 0.05 * h)
    page.mouse.down()
    page.mouse.move(x + 0.28 * w, y + 0.95 * h, steps=12)  # tall and thin: a vertical line through its middle
    page.mouse.up()
    frame.locator("text=line 1").wait_for(timeout=30_000)  # drawn on the frame as an arrow, named
    page.get_by_role("button", name="Track and count").click()
    _wait_or_explain(page, page.locator("video"), outputs, 300)
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); return v && v.readyState >= 1 && v.duration > 5; }",
        timeout=60_000,
    )  # the annotated video loads and plays in the page: its ten seconds are known
    page.get_by_text("line 1").last.wait_for(timeout=30_000)  # its counts in the table
    # the result's figures, waited for: a rerun of the page may be redrawing them at any one instant
    expect(page.get_by_test_id("stMetric").filter(has_text="Tracks")).to_have_count(1, timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
