"""Many people on one studio: N browser sessions open the System status and Runs pages at once while
a training runs, for N = 1, 5 and 20. Prints, per N, the time until each page is drawn (median and
slowest over the sessions) and the app server's resident memory (peak, and after the sessions).

    python benchmarks/load.py [--sessions 1 5 20] [--runs 20]
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
from benchmarks.workspace import studio_workspace  # noqa: E402
from mlcore.demo_data import make_demo_dataset  # noqa: E402
from mlcore.settings import load_settings  # noqa: E402
from mlcore.train_spec import TrainSpec  # noqa: E402
from mlcore.training import cancel_job, submit_training  # noqa: E402
from tests.run_fixture import make_run  # noqa: E402

PAGES = {"status": "[data-testid='stMetricValue']", "runs": "[data-testid='stDataFrame']"}


async def session(browser, url: str) -> dict[str, float]:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(300_000)  # 20 sessions on 2 busy cores take minutes, not seconds
    times = {}
    try:
        for name, drawn in PAGES.items():
            started = time.perf_counter()
            await page.goto(f"{url}/{name}")
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
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--runs", type=int, default=20, help="finished runs on disk for the Runs page")
    options = parser.parse_args()
    with studio_workspace("load-") as work:
        outputs = work / "ml_outputs"
        dataset = make_demo_dataset(work / "data" / "demo", images=120, imgsz=128).root
        for n in range(options.runs):
            make_run(outputs, f"load/run{n:02d}", epochs=30)
        settings = load_settings()
        spec = TrainSpec(dataset_path=str(dataset), epochs=500, imgsz=64, batch_size=16, workers=0, device="cpu",
                         project="load", experiment="running")  # fmt: skip
        job = submit_training(spec, settings)
        print(f"a training runs on the CPU ({os.cpu_count()} cores) during every measurement; {options.runs} runs")
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
                        results = asyncio.run(crowd(url, n))
                    finally:
                        stop.set()
                        sampler.join()
                    time.sleep(2)
                    line = [f"N={n:>2}:"]
                    for name in PAGES:
                        values = [r[name] for r in results]
                        line.append(f"{name} {statistics.median(values):5.1f} s median, {max(values):5.1f} s slowest;")
                    after = process.memory_info().rss / 2**20
                    line.append(f"server RSS peak {max(peak) / 2**20:.0f} MiB, after {after:.0f} MiB")
                    print(" ".join(line), flush=True)
        finally:
            cancel_job(job.id, settings, grace_s=5)


if __name__ == "__main__":
    main()
