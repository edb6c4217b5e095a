"""Many people on one studio: N sessions open the System status and Runs pages at once while a
training runs, for N = 1, 5 and 20. Prints, per N, the time until each page is drawn (median and
slowest over the sessions) and the app server's resident memory (peak, and after the sessions).

Two kinds of session:
- `--client stream` (default): light clients speaking the browser's websocket protocol
  (benchmarks/stream_client.py). Each opens System status and stays 20 s asking for its live
  refreshes, then opens Runs. This measures the server, which is what users share.
- `--client browser`: real Chromium tabs. On a 2-core machine 20 tabs measure Chromium more than the
  studio (it could not draw a page within 300 s there), so use it with N = 1 and 5.

    python benchmarks/load.py [--client stream|browser] [--sessions 1 5 20] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.app_server import app_server  # noqa: E402
from benchmarks.stream_client import StreamSession  # noqa: E402
from benchmarks.workspace import studio_workspace  # noqa: E402
from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.jobs.control import cancel_job  # noqa: E402
from mlcore.training.spec import TrainSpec  # noqa: E402
from mlcore.training.submit import submit_training  # noqa: E402
from tests.run_fixture import make_run  # noqa: E402

# name: (address, what shows the page is drawn in a browser); System status is the app's default page
PAGES = {"status": ("", "[data-testid='stMetricValue']"), "runs": ("runs", "[data-testid='stDataFrame']")}


async def stream_session(url: str, stay_s: float) -> dict[str, float | list[float]]:
    async with StreamSession(url) as session:
        status = await session.visit(PAGES["status"][0], stay_s=stay_s)
        runs = await session.visit(PAGES["runs"][0])
    if status.exceptions or runs.exceptions:
        raise RuntimeError("a page showed an exception under load")
    return {"status": status.drawn_s, "runs": runs.drawn_s, "refresh": status.refreshes_s}


async def stream_crowd(url: str, n: int, stay_s: float = 20.0) -> list[dict[str, float | list[float]]]:
    return await asyncio.gather(*(stream_session(url, stay_s) for _ in range(n)))


async def session(browser, url: str) -> dict[str, float]:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(300_000)  # 20 sessions on 2 busy cores take minutes, not seconds
    times = {}
    try:
        for name, (address, drawn) in PAGES.items():
            started = time.perf_counter()
            await page.goto(f"{url}/{address}")
            await page.locator(drawn).first.wait_for()
            times[name] = time.perf_counter() - started
    finally:
        await context.close()
    return times


async def crowd(url: str, n: int) -> list[dict[str, float]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            return await asyncio.gather(*(session(browser, url) for _ in range(n)))
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=["stream", "browser"], default="stream")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--runs", type=int, default=20, help="finished runs on disk for the Runs page")
    options = parser.parse_args()
    with studio_workspace("load-") as work:
        outputs = work / "ml_outputs"
        dataset = make_demo_dataset(work / "data" / "demo", images=120, imgsz=128).root
        for n in range(options.runs):
            make_run(outputs, f"load/run{n:02d}", epochs=30)
        settings = load_settings()
        spec = TrainSpec(
            dataset_path=str(dataset),
            epochs=500,
            imgsz=64,
            batch_size=16,
            workers=0,
            device="cpu",
            project="load",
            experiment="running",
        )
        job = submit_training(spec, settings)
        print(
            f"{options.client} sessions; a training runs on the CPU ({os.cpu_count()} cores) during every "
            f"measurement; {options.runs} runs on disk"
        )
        command = [sys.executable, "serve_app.py", "run", "app.py"]
        try:
            with app_server(command, {**os.environ, "ML_STUDIO_OUTPUTS": str(outputs)}) as (server, url):
                process = psutil.Process(server.pid)
                for n in options.sessions:
                    peak, stop = [process.memory_info().rss], threading.Event()

                    def sample(peak=peak, stop=stop) -> None:
                        while not stop.wait(0.2):
                            peak.append(process.memory_info().rss)

                    sampler = threading.Thread(target=sample, daemon=True)
                    sampler.start()
                    try:
                        crowd_of = stream_crowd if options.client == "stream" else crowd
                        results = asyncio.run(crowd_of(url, n))
                    finally:
                        stop.set()
                        sampler.join()
                    time.sleep(2)
                    line = [f"N={n:>2}:"]
                    for name in PAGES:
                        values = [r[name] for r in results]
                        line.append(f"{name} {statistics.median(values):5.2f} s median, {max(values):5.2f} s slowest;")
                    refreshes = [t for r in results for t in r.get("refresh", [])]
                    if refreshes:
                        line.append(
                            f"live refresh {statistics.median(refreshes):4.2f} s median, "
                            f"{max(refreshes):4.2f} s slowest ({len(refreshes)});"
                        )
                    after = process.memory_info().rss / 2**20
                    line.append(f"server RSS peak {max(peak) / 2**20:.0f} MiB, after {after:.0f} MiB")
                    print(" ".join(line), flush=True)
        finally:
            cancel_job(job.id, settings, grace_s=5)


if __name__ == "__main__":
    main()
