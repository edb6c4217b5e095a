"""The app server killed and started again while a training runs: the training goes on, and the
Training page of the new server shows its live progress again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from mlcore.core import paths
from mlcore.core.settings import load_settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.jobs.control import cancel_job
from mlcore.jobs.local import is_alive
from mlcore.jobs.store import JobState, JobStore
from mlcore.training.spec import TrainSpec
from mlcore.training.submit import submit_training
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _open, _progress_values, app_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_training_outlives_the_app_server_and_shows_again_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    outputs = tmp_path / "ml_outputs"
    dataset = make_demo_dataset(outputs / "datasets" / "demo", images=60, imgsz=96).root
    monkeypatch.setenv("ML_STUDIO_OUTPUTS", str(outputs))
    settings = load_settings()
    spec = TrainSpec(
        dataset_path=str(dataset),
        epochs=40,
        imgsz=64,
        batch_size=8,
        workers=0,
        device="cpu",
        project="restart",
        experiment="long",
    )
    job = submit_training(spec, settings)
    store = JobStore(outputs / paths.JOBS_DB)
    log = tmp_path / "streamlit.log"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            with app_server(outputs, log) as first:
                _open(tab, f"{first.url}/training")
                tab.locator("[data-testid='stProgress']").first.wait_for(timeout=120_000)
                os.killpg(first.process.pid, signal.SIGKILL)  # the server dies; the worker is in its own session
                first.process.wait(timeout=15)
            running = store.get(job.id)
            assert running.state is JobState.RUNNING and is_alive(running.pid, running.pid_started)
            with app_server(outputs, log) as second:
                _open(tab, f"{second.url}/training")
                tab.locator("[data-testid='stProgress']").first.wait_for(timeout=60_000)
                seen: set[float] = set()
                deadline = time.monotonic() + 120
                while len(seen) < 2 and time.monotonic() < deadline:
                    seen |= set(_progress_values(tab))
                    tab.wait_for_timeout(500)
                assert len(seen) >= 2, f"the progress bar did not move after the restart: {sorted(seen)}"
                assert tab.locator("[data-testid='stException']").count() == 0
        finally:
            browser.close()
            if not store.get(job.id).state.is_final():
                cancel_job(job.id, settings, grace_s=5)
